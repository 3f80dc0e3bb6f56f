"""Queries against a real Orthanc at patient, study and series level, over both protocols;
no patient data in any log record."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from orthanc_server import Orthanc

from medsr_viewer.pacs.client import PacsClient
from medsr_viewer.pacs.connect import connect
from medsr_viewer.pacs.records import Query
from medsr_viewer.pacs.retrieve import retrieve_series

PROTOCOLS = ("dicomweb", "dimse")


@pytest.fixture(params=PROTOCOLS)
def client(request: pytest.FixtureRequest, orthanc: Orthanc) -> PacsClient:
    return connect(orthanc.dicomweb() if request.param == "dicomweb" else orthanc.dimse())


def test_echo(client: PacsClient) -> None:
    client.echo()


def test_patient_level(client: PacsClient, orthanc: Orthanc) -> None:
    vs, qa = orthanc.series["vs"], orthanc.series["qa"]
    everyone = {p.patient_id: p for p in client.find_patients(Query())}
    assert {vs.patient_id, qa.patient_id} <= set(everyone)
    assert everyone[vs.patient_id].patient_name == vs.patient_name
    assert everyone[vs.patient_id].n_studies == 1
    found = client.find_patients(Query(patient_name=vs.patient_name[:4] + "*"))
    assert [p.patient_id for p in found] == [vs.patient_id]
    assert client.find_patients(Query(patient_id="NOBODY-HERE")) == []


def test_study_level(client: PacsClient, orthanc: Orthanc) -> None:
    vs, qa = orthanc.series["vs"], orthanc.series["qa"]
    studies = client.find_studies(Query(patient_id=vs.patient_id))
    assert [s.study_uid for s in studies] == [vs.study_uid]
    study = studies[0]
    assert study.patient_name == vs.patient_name and study.study_date == "19940904"
    assert "MR" in study.modalities and (study.n_series or 0) >= 1
    by_date = client.find_studies(Query(study_date="20140101-20141231"))
    assert [s.study_uid for s in by_date] == [qa.study_uid]
    assert client.find_studies(Query(study_date="20300101-")) == []


def test_series_level(client: PacsClient, orthanc: Orthanc) -> None:
    vs = orthanc.series["vs"]
    series = {s.series_uid: s for s in client.find_series(vs.study_uid)}
    match = series[vs.series_uid]
    assert (match.modality, match.n_instances, match.study_uid) == ("MR", 20, vs.study_uid)
    assert match.description == "t1_mpr_tra_gk_v4"
    instances = client.find_instances(vs.study_uid, vs.series_uid)
    assert len(instances) == 20 and len({i.sop_instance_uid for i in instances}) == 20
    assert {i.sop_class_uid for i in instances} == {"1.2.840.10008.5.1.4.1.1.4"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_patient_data_in_logs(protocol: str, orthanc: Orthanc, tmp_path: Path,
                                 caplog: pytest.LogCaptureFixture) -> None:
    vs, qa = orthanc.series["vs"], orthanc.series["qa"]
    client = connect(orthanc.dicomweb() if protocol == "dicomweb" else orthanc.dimse())
    with caplog.at_level(logging.DEBUG):
        client.find_patients(Query(patient_name="VS*"))
        client.find_studies(Query(patient_id=qa.patient_id, study_date="20140214"))
        client.find_series(qa.study_uid)
        retrieve_series(client, qa.study_uid, qa.series_uid, tmp_path / "qa")
    assert caplog.records, "nothing was logged: the check would prove nothing"
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (vs.patient_name, vs.patient_id, qa.patient_name, "19660101", "20140214",
                   "19940904", qa.study_uid, qa.series_uid):
        assert secret not in text, f"{secret!r} in the log"
