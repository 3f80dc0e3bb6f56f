"""File ▸ Open from PACS… and File ▸ Send to PACS… in the real window, against a real
Orthanc: search, results listed, a series retrieved in the background with a progress bar
and opened; a retrieve cut half-way or cancelled opens nothing; a derived series sent back."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from orthanc_server import CuttingProxy, Orthanc
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from medsr_viewer.core.io import load_volume
from medsr_viewer.core.io.derived_series import Derivation, write_derived_series
from medsr_viewer.core.volume import Volume
from medsr_viewer.gui.dialogs.pacs_open import PacsOpenDialog
from medsr_viewer.gui.main_window import MainWindow
from medsr_viewer.pacs.connect import connect
from medsr_viewer.pacs.records import Query
from medsr_viewer.pacs.retrieve import pacs_cache_dir, series_folder
from medsr_viewer.pacs.servers import ServerStore


@pytest.fixture(autouse=True)
def _collect_between_tests() -> Iterator[None]:
    """As in tests/gui: Python garbage is collected between GUI tests, never inside a Qt
    call (a collection inside ``QObject::disconnect`` can hang PySide6)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, pacs_config: Path,
           orthanc: Orthanc) -> Iterator[MainWindow]:
    """The main window, with the test Orthanc saved as "web" (DICOMweb) and "dimse"."""
    store = ServerStore()
    store.put(orthanc.dicomweb("web"))
    store.put(orthanc.dimse("dimse"))
    main = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()


def _open_dialog(window: MainWindow, server: str) -> PacsOpenDialog:
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    action = window.actions_.action("file.open_pacs")
    assert action in file_menu.actions() and action.isEnabled()
    action.trigger()
    dialog = window.studies.pacs.open_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.server_combo.setCurrentIndex(dialog.server_combo.findText(server,
                                                                     Qt.MatchFlag.MatchStartsWith))
    return dialog


def _choose_series(qtbot: QtBot, dialog: PacsOpenDialog, orthanc: Orthanc) -> None:
    vs = orthanc.series["vs"]
    dialog.fields["patient_name"].setText("VS-SEG")  # no wildcard: a prefix
    qtbot.mouseClick(dialog.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.studies_table.rowCount() == 1, timeout=15000)
    assert dialog.studies_table.item(0, 0).text() == vs.patient_name  # shown, not logged
    assert dialog.studies_table.item(0, 3).text() == "19940904"
    dialog.studies_table.selectRow(0)
    qtbot.waitUntil(lambda: dialog.series_table.rowCount() >= 1, timeout=15000)
    row = next(r for r in range(dialog.series_table.rowCount())
               if dialog.series_table.item(r, 2).text() == "t1_mpr_tra_gk_v4")
    dialog.series_table.selectRow(row)
    assert dialog.retrieve_button.isEnabled()


def test_search_retrieve_with_progress_and_open(window: MainWindow, orthanc: Orthanc,
                                                qtbot: QtBot, vs_files: list[Path],
                                                caplog: pytest.LogCaptureFixture) -> None:
    vs = orthanc.series["vs"]
    caplog.set_level(logging.DEBUG)
    dialog = _open_dialog(window, "web")
    _choose_series(qtbot, dialog, orthanc)
    values: list[int] = []
    dialog.progress.valueChanged.connect(values.append)
    qtbot.mouseClick(dialog.retrieve_button, Qt.MouseButton.LeftButton)
    assert dialog.retrieving and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: window.view_model.display is not None, timeout=30000)
    volume = window.view_model.display.volume
    np.testing.assert_array_equal(volume.voxels, load_volume(vs_files).voxels)
    assert dialog.progress.maximum() == 20 and values[-1] == 20 and len(set(values)) > 2
    assert not dialog.isVisible()
    folder = series_folder(pacs_cache_dir(), "web", vs.study_uid, vs.series_uid)
    assert window.studies.paths == (folder,) and len(list(folder.glob("*.dcm"))) == 20
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert vs.patient_name not in logged and "19940904" not in logged


def test_a_retrieve_cut_half_way_opens_nothing(window: MainWindow, orthanc: Orthanc,
                                               qtbot: QtBot) -> None:
    proxy = CuttingProxy(orthanc.dicom_port, limit=3_000_000)
    try:
        ServerStore().put(orthanc.dimse("dimse", port=proxy.port))
        dialog = _open_dialog(window, "dimse")
        _choose_series(qtbot, dialog, orthanc)
        qtbot.mouseClick(dialog.retrieve_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.retrieving, timeout=30000)
    finally:
        proxy.close()
    text = dialog.status.text()
    assert "lost during the C-GET after" in text and "nothing was opened" in text
    assert dialog.status.property("error") is True and dialog.isVisible()
    assert window.view_model.display is None
    assert not pacs_cache_dir().exists() or not any(pacs_cache_dir().rglob("*.dcm"))


def test_cancel_deletes_the_partial_series(window: MainWindow, orthanc: Orthanc,
                                           qtbot: QtBot) -> None:
    proxy = CuttingProxy(orthanc.http_port, limit=None, delay=0.02)  # a slow network
    try:
        ServerStore().put(orthanc.dicomweb("web", url=f"http://127.0.0.1:{proxy.port}"
                                                      "/dicom-web"))
        dialog = _open_dialog(window, "web")
        _choose_series(qtbot, dialog, orthanc)
        qtbot.mouseClick(dialog.retrieve_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.progress.value() >= 1, timeout=30000)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.retrieving, timeout=30000)
    finally:
        proxy.close()
    assert "cancelled; the partial data was deleted" in dialog.status.text()
    assert window.view_model.display is None
    assert not pacs_cache_dir().exists() or not any(pacs_cache_dir().rglob("*.dcm"))


def test_send_a_derived_series(window: MainWindow, orthanc: Orthanc, qtbot: QtBot,
                               vs_files: list[Path], tmp_path: Path) -> None:
    vs = orthanc.series["vs"]
    source = load_volume(vs_files[:4])
    result = Volume(source.voxels.astype(np.float32) + 1, source.affine,
                    modality=source.modality, name="derived")
    files = write_derived_series(result, source, tmp_path / "derived",
                                 Derivation("gui-test", "1", "ef" * 32, "0.1.0"), "GUI send")
    window.open_paths([tmp_path / "derived"])
    qtbot.waitUntil(lambda: window.view_model.display is not None, timeout=30000)
    window.actions_.action("file.send_pacs").trigger()
    dialog = window.studies.pacs.send_dialog
    assert dialog is not None and dialog.folder.text() == str(tmp_path / "derived")
    dialog.server_combo.setCurrentIndex(dialog.server_combo.findText(
        "dimse", Qt.MatchFlag.MatchStartsWith))
    qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.sending, timeout=30000)
    assert "4 instances stored on PACS 'dimse'" in dialog.status.text()
    assert dialog.report is not None and dialog.report.ok and dialog.progress.value() == 4
    uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
    found = connect(orthanc.dicomweb()).find_series(vs.study_uid, Query(series_uid=uid))
    assert [s.n_instances for s in found] == [4]
