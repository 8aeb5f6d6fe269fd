import io

import numpy as np
import pydicom

from studies.intake.deidentify import KEPT_FOR_MODELS, UidMap, deidentify
from tests.dicom_files import write_radiograph


def radiograph_with_phi(tmp_path):
    path = write_radiograph(tmp_path / "cr.dcm", np.zeros((8, 8), np.uint8),
                            patient_id="MRN-123456")
    dataset = pydicom.dcmread(path)
    dataset.PatientName = "Ivanova^Maria"
    dataset.PatientBirthDate = "19700101"
    dataset.PatientAge, dataset.PatientSex = "055Y", "F"
    dataset.StudyDate = "20260101"
    dataset.InstitutionName = "City Hospital No. 7"
    dataset.ReferringPhysicianName = "Petrov^Ivan"
    dataset.AccessionNumber = "ACC-998877"
    dataset.add_new(0x00091001, "LO", "private note about Ivanova")
    return dataset


def test_identifying_data_is_gone_from_the_stored_bytes(tmp_path):
    dataset = radiograph_with_phi(tmp_path)
    original_uid = dataset.StudyInstanceUID
    identity = deidentify(dataset, UidMap())
    assert identity.patient_name == "Ivanova^Maria" and identity.patient_id == "MRN-123456"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    stored = buffer.getvalue()
    for secret in (b"Ivanova", b"MRN-123456", b"19700101", b"City Hospital", b"Petrov",
                   b"ACC-998877", original_uid.encode()):
        assert secret not in stored, secret
    assert dataset.PatientIdentityRemoved == "YES"


def test_what_the_models_and_report_need_is_kept(tmp_path):
    dataset = radiograph_with_phi(tmp_path)
    before = {k: dataset.get(k) for k in KEPT_FOR_MODELS if k in dataset}
    deidentify(dataset, UidMap())
    assert {k: dataset.get(k) for k in before} == before
    assert dataset.PatientAge == "055Y" and dataset.ViewPosition == "PA"
    assert dataset.pixel_array.shape == (8, 8)


def test_uids_are_replaced_consistently_within_an_ingest(tmp_path):
    first, second = radiograph_with_phi(tmp_path), radiograph_with_phi(tmp_path)
    second.StudyInstanceUID = first.StudyInstanceUID
    original = first.StudyInstanceUID
    uids = UidMap()
    deidentify(first, uids)
    deidentify(second, uids)
    assert first.StudyInstanceUID == second.StudyInstanceUID != original
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
