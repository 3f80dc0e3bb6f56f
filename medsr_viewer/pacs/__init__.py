"""Query, retrieve from and store to a PACS, over DICOMweb or DIMSE; Qt-free and torch-free.

Modules (import what you use: the protocol modules load ``pynetdicom``, ``dicomweb-client``
and ``requests``, which the viewer's start-up does not need)::

    servers   PacsServer, ServerStore: servers and the settings file they live in
    connect   connect(server) -> PacsClient (client: the interface; dicomweb, dimse)
              find_patients / find_studies / find_series / find_instances / fetch_series /
              store / echo
    records   Query, PatientMatch, StudyMatch, SeriesMatch, InstanceMatch, StoreReport
    retrieve  retrieve_series(client, study, series, dest, progress=, cancel=): whole or not
              at all; pacs_cache_dir, series_folder
    send      send_folder(client, folder, progress=, cancel=), dicom_files
    errors    PacsError and its subclasses (messages name the server, never patient data)

The GUI (File ▸ Open from PACS…, File ▸ Send to PACS…) and ``medsr pacs`` are built on it.
"""
