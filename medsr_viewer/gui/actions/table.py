"""Every user action of the viewer in one table: id, text, shortcuts, tip, menu.

Menus, toolbars, the keyboard-shortcut help and the settings read this table (through
:class:`~medsr_viewer.gui.actions.registry.ActionRegistry`), so a shortcut is defined once
and cannot disagree between the menu, the tooltip and the help. The code that does the work
binds to an action by its id (``registry.bind("view.axial", slot)``), napari's
``action_manager`` pattern. The table is Qt-free data: key sequences are written as Qt's
portable text (``"Ctrl+Shift+O"``), standard keys by their ``QKeySequence.StandardKey`` name.

Menus list their actions in table order; a change of ``section`` within a menu puts a
separator between them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    """One action.

    Parameters
    ----------
    id
        Stable dotted name (``"file.open"``), also the key of user shortcut settings.
    text
        Menu text, with ``&`` before the mnemonic.
    shortcuts
        Key sequences (the first is shown in tooltips and menus); ``"std:Open"`` names a
        ``QKeySequence.StandardKey``.
    tip
        Status-bar tip and tooltip (the shortcut is appended to the tooltip).
    menu
        Top-level menu it is listed in ("" = none: a keyboard-only action).
    section
        Group within the menu; a separator goes between sections.
    checkable
        A toggle (its state is shown checked in menus and toolbars).
    icon_text
        Short text for toolbar buttons ("" = ``text`` without the mnemonic).
    """

    id: str
    text: str
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    menu: str = ""
    section: int = 0
    checkable: bool = False
    icon_text: str = ""


A = ActionSpec

#: The viewer's actions, in menu order.
ACTIONS: tuple[ActionSpec, ...] = (
    # ---- File
    A("file.open", "&Open File…", ("std:Open",), "Open a NIfTI, DICOM or image file "
      "(several DICOM files: one series)", "File", 0),
    A("file.open_folder", "Open &Folder…", ("Ctrl+Shift+O",), "Open a folder of DICOM files",
      "File", 0),
    A("file.open_demo", "Open &Demo Study", (), "MNI152 T1 brain template", "File", 0),
    A("file.open_pacs", "Open from PA&CS…", (), "Search a PACS (DICOMweb or DIMSE), retrieve "
      "a series in the background and open it", "File", 0),
    A("file.open_model", "Open &Model File…", ("Ctrl+M",), "Add a model file with a card "
      "(.safetensors; .pt/.pt2 only if trusted) to the picker", "File", 0),
    A("labels.open", "Open &Label Map…", (), "Add a label layer from a file (NIfTI, MGZ, "
      "DICOM SEG) over the study", "File", 0),
    A("labels.open_table", "Open &Colour Table…", (), "Names and colours for the active label "
      "layer from a FreeSurfer LUT or ITK-SNAP label file", "File", 0),
    A("labels.save", "Save Label Map &As…", (), "Save the active label layer as NIfTI or, "
      "for a DICOM study, DICOM SEG", "File", 0),
    A("session.open", "Open &Session…", (), "Reopen a saved session (study, ROIs, labels, "
      "view)", "File", 1),
    A("session.save", "&Save Session…", ("std:Save",), "Save study, ROIs, label layers, "
      "model and view to a file", "File", 1),
    A("rois.import", "&Import ROIs…", (), "Add the ROIs of a JSON file (undoable)", "File", 2),
    A("rois.export", "Export &ROIs…", (), "Save the ROIs (world coordinates) as JSON",
      "File", 2),
    A("rois.export_metrics", "Export ROI &Metrics…", (), "Write every ROI's metrics to CSV "
      "or JSON", "File", 2),
    A("reference.open", "Open Re&ference Volume…", (), "A high-resolution volume to score "
      "results against", "File", 3),
    A("reference.simulate", "Simulate &Low Resolution", (), "Show the study at the model's "
      "lower resolution (block mean) and score the model against the real study", "File", 3,
      checkable=True),
    A("reference.clear", "Clear Reference", (), "", "File", 3),
    A("file.export_pane", "Export &Pane Screenshot…", ("Ctrl+Shift+E",), "Save the active "
      "pane as drawn (PNG, with letters, overlay and scale bar, never patient data)", "File", 4),
    A("file.export_layout", "Export La&yout Screenshot…", (), "Save every pane shown (PNG, "
      "never patient data)", "File", 4),
    A("file.dicom_tags", "DICOM &Tags…", ("Ctrl+T",), "The DICOM header of the slice shown "
      "(patient data masked until revealed)", "File", 4),
    A("file.send_pacs", "Se&nd to PACS…", (), "Store a DICOM folder (e.g. a derived series) "
      "on a PACS with STOW-RS or C-STORE", "File", 4),
    A("file.quit", "&Quit", ("std:Quit",), "", "File", 5),
    # ---- Edit (ROIs)
    A("edit.undo", "&Undo", ("Ctrl+Z",), "", "Edit", 0),
    A("edit.redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "", "Edit", 0),
    A("edit.delete_roi", "&Delete ROI", ("Delete", "Backspace"), "Delete the selected ROI",
      "Edit", 1),
    # ---- View
    A("view.axial", "Axial", ("1",), "Show the axial plane", "View", 0, checkable=True),
    A("view.coronal", "Coronal", ("2",), "Show the coronal plane", "View", 0, checkable=True),
    A("view.sagittal", "Sagittal", ("3",), "Show the sagittal plane", "View", 0,
      checkable=True),
    A("view.three_plane", "&Three Planes", ("4",), "Axial, coronal and sagittal side by "
      "side with a linked crosshair", "View", 0, checkable=True),
    A("view.reset", "&Reset View", ("R",), "Fit the images, default window", "View", 1),
    A("view.sr", "&Super-Resolution", ("S",), "Show the model's result of the current "
      "slice beside the original", "View", 1, checkable=True, icon_text="SR"),
    A("labels.toggle", "&Label Overlay", ("O",), "Show or hide the label layers", "View", 1,
      checkable=True),
    A("labels.style", "Cycle Label &Style", ("Shift+O",), "Active label layer: fill, "
      "outline, both", "View", 1),
    A("view.metrics_dock", "ROI &Metrics", ("Ctrl+Shift+M",), "Show or hide the ROI "
      "Metrics dock", "View", 1, checkable=True),
    A("view.info_overlay", "&Information Overlay", ("I",), "Series, slice location, "
      "thickness, window, zoom and plane in the pane corners", "View", 4, checkable=True),
    A("view.scale_bar", "Scale &Bar", (), "A bar of a round length in mm at the bottom of "
      "each pane", "View", 4, checkable=True),
    A("view.crosshair", "&Crosshair", ("C",), "Crosshair lines in the compared panes and "
      "in three planes", "View", 4, checkable=True),
    A("view.patient_data", "Show &Patient Data", (), "Patient name, ID, birth date and "
      "study date in the panes (never in screenshots)", "View", 4, checkable=True),
    A("view.add_model_pane", "&Add Model Pane", ("Ctrl+Alt+M",), "Another model's result (or "
      "bicubic) of the same slice beside the SR pane, linked; up to four results", "View", 1),
    A("view.remove_model_pane", "Remove Model Pane", (), "Remove the rightmost extra model "
      "pane", "View", 1),
    A("view.zoom_fit", "Zoom to &Fit", ("Z",), "Fit the slice in the active pane (the "
      "window stays)", "View", 5),
    A("view.zoom_1_1", "Zoom &1:1", ("Shift+Z",), "One image pixel per screen pixel in the "
      "active pane", "View", 5),
    A("view.zoom_2_1", "Zoom &2:1", ("Alt+Z",), "Two screen pixels per image pixel in the "
      "active pane", "View", 5),
    A("slice.next", "Next Slice", ("Up",), "", "View", 2),
    A("slice.previous", "Previous Slice", ("Down",), "", "View", 2),
    A("slice.forward10", "Forward 10 Slices", ("PgUp",), "", "View", 2),
    A("slice.back10", "Back 10 Slices", ("PgDown",), "", "View", 2),
    A("slice.first", "First Slice", ("Home",), "", "View", 2),
    A("slice.last", "Last Slice", ("End",), "", "View", 2),
    A("volume.next", "Next Volume", ("Alt+Up", "."), "Next Volume of a 4-D series (DWI, "
      "fMRI, echoes …)", "View", 3),
    A("volume.previous", "Previous Volume", ("Alt+Down", ","), "Previous Volume of a 4-D "
      "series (DWI, fMRI, echoes …)", "View", 3),
    A("view.cine_slices", "Cine &Slices", ("Space",), "Play the slices of the active plane in "
      "a loop (again: stop)", "View", 3, checkable=True),
    A("view.cine_volumes", "Cine &Volumes", ("Shift+Space",), "Play the volumes of a 4-D "
      "series in a loop, at its repetition time when it has one (again: stop)", "View", 3,
      checkable=True),
    # ---- Tools (ROIs)
    A("tool.navigate", "&Navigate", ("N",), "Pan, select, move and resize ROIs (Esc)",
      "Tools", 0, checkable=True),
    # (the toolbar names the shape, "Rectangle"; the Tools menu "Rectangle ROI")
    A("tool.rectangle", "&Rectangle ROI", ("Q",), "Drag to draw a rectangle ROI", "Tools", 0,
      checkable=True, icon_text="Rectangle"),
    A("tool.ellipse", "&Ellipse ROI", ("E",), "Drag to draw an ellipse ROI", "Tools", 0,
      checkable=True, icon_text="Ellipse"),
    A("tool.polygon", "&Polygon ROI", ("P",), "Click the vertices; double-click or Enter "
      "closes, Esc cancels", "Tools", 0, checkable=True, icon_text="Polygon"),
    A("tool.freehand", "&Freehand ROI", ("F",), "Draw a closed lasso with the mouse",
      "Tools", 0, checkable=True, icon_text="Freehand"),
    A("tool.brush", "&Brush", ("B",), "Paint a mask ROI ([ and ] change the radius)",
      "Tools", 0, checkable=True),
    A("tool.eraser", "Era&ser", ("X",), "Erase from the selected brush ROI", "Tools", 0,
      checkable=True),
    A("tool.ruler", "R&uler", ("L",), "Drag to measure a distance in mm (shown on every "
      "pane of that slice, kept in the session and the ROI export)", "Tools", 0,
      checkable=True),
    A("tool.angle", "&Angle", ("A",), "Click an end, the vertex and the other end (or drag "
      "the first arm) to measure an angle", "Tools", 0, checkable=True),
    A("tool.close_polygon", "Close Polygon", ("Return", "Enter"), "Close the polygon being "
      "drawn", "Tools", 1),
    A("tool.escape", "Cancel / Navigate", ("Esc",), "Cancel the polygon being drawn, else "
      "back to the Navigate tool, else deselect", "Tools", 1),
    A("tool.smaller_brush", "Smaller Brush", ("[",), "Brush and eraser radius down",
      "Tools", 2),
    A("tool.larger_brush", "Larger Brush", ("]",), "Brush and eraser radius up", "Tools", 2),
    A("tools.reader_study", "Blinded Reader Stu&dy…", (), "Pairs of methods' images of "
      "slices, sides random, names hidden; pick or score 1–5 by key; results to CSV",
      "Tools", 3),
    A("tools.classify", "Series &Type (Classification)", ("Ctrl+Shift+Y",), "Class "
      "probabilities of the slice shown and along the slices (series-type model), with a "
      "Grad-CAM overlay", "Tools", 3, checkable=True),
    # ---- Segmentation
    A("segment.slice", "Segment Current &Slice", (), "Run the segmentation model on the "
      "slice shown; the result is a new label layer", "Segmentation", 0),
    A("segment.volume", "Segment &Volume", (), "Run the segmentation model on every slice "
      "of the plane shown", "Segmentation", 0),
    A("segment.cancel", "&Cancel Segmentation", (), "", "Segmentation", 0),
    A("segment.open_model", "Open Segmentation &Model…", (), "Add a segment model file "
      "(with a card)", "Segmentation", 1),
    # ---- W/L (window presets are added per study: PRESET_PREFIX), colour maps
    A("lut.grey", "&Grey", (), "Grey levels, black to white", "W/L", 1, checkable=True),
    A("lut.hot", "&Hot", (), "Heat scale: black, red, yellow, white (colorcet L3)", "W/L", 1,
      checkable=True),
    A("lut.inferno", "&Inferno", (), "Perceptually uniform, dark purple to yellow", "W/L", 1,
      checkable=True),
    A("lut.viridis", "&Viridis", (), "Perceptually uniform, blue to yellow", "W/L", 1,
      checkable=True),
    A("lut.next", "Next &Colour Map", ("M",), "Grey, hot, inferno, viridis in turn", "W/L", 2),
    A("lut.invert", "In&vert", ("Shift+I",), "Swap dark and bright (low values white)", "W/L",
      2, checkable=True),
    # ---- Help
    A("help.shortcuts", "&Keyboard Shortcuts…", ("F1",), "Every action with a shortcut, by "
      "menu", "Help", 0),
    A("help.about", "&About MedSR Viewer", (), "The version of the viewer and of the "
      "libraries it runs on", "Help", 0),
)

#: Window presets get ``window.preset.<name>`` ids at run time (they depend on the study),
#: on Ctrl+0, Ctrl+1 ... in the order of the W/L (window/level) menu.
PRESET_PREFIX = "window.preset."
#: Menus in menu-bar order ("Window": the docks and toolbars; "W/L": window/level presets).
MENUS: tuple[str, ...] = ("File", "Edit", "View", "Tools", "Segmentation", "W/L", "Window",
                          "Help")
