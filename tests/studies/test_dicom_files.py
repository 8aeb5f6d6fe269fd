import io

import numpy as np
import pydicom
import pytest

from lesions_project.errors import ApplicationError
from studies.intake.dicom_files import CT_MODALITIES, RADIOGRAPH_MODALITIES, check_dicom, read_dicom
from tests.dicom_files import write_ct_series, write_radiograph


def test_a_radiograph_passes(tmp_path):
    path = write_radiograph(tmp_path / "cr.dcm", np.zeros((10, 12), np.uint8))
    info = check_dicom(read_dicom(path.open("rb")), modalities=RADIOGRAPH_MODALITIES)
    assert (info.modality, info.rows, info.columns) == ("CR", 10, 12)


def test_text_renamed_dcm_is_refused():
    with pytest.raises(ApplicationError, match="not a DICOM file"):
        read_dicom(io.BytesIO(b"just some text, not DICOM at all" * 10))


def test_an_mr_where_a_ct_is_expected_is_refused(tmp_path):
    path = write_radiograph(tmp_path / "mr.dcm", np.zeros((4, 4), np.uint8), modality="MR")
    with pytest.raises(ApplicationError, match="MR image, but a CT image"):
        check_dicom(read_dicom(path.open("rb")), modalities=CT_MODALITIES)


def test_a_dicom_without_pixels_is_refused(tmp_path):
    path = write_radiograph(tmp_path / "cr.dcm", np.zeros((4, 4), np.uint8))
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    with pytest.raises(ApplicationError, match="no pixel data"):
        check_dicom(dataset, modalities=RADIOGRAPH_MODALITIES)


def test_pixels_that_do_not_decode_are_refused(tmp_path):
    path = write_radiograph(tmp_path / "cr.dcm", np.zeros((16, 16), np.uint8))
    dataset = pydicom.dcmread(path)
    dataset.PixelData = dataset.PixelData[:10]  # truncated
    with pytest.raises(ApplicationError, match="cannot be decoded"):
        check_dicom(dataset, modalities=RADIOGRAPH_MODALITIES)


def test_a_ct_slice_passes_as_ct(tmp_path):
    paths = write_ct_series(tmp_path / "ct", np.zeros((2, 8, 8)))
    assert check_dicom(read_dicom(paths[0].open("rb")), modalities=CT_MODALITIES).modality == "CT"


def test_a_ct_of_another_sop_class_is_refused(tmp_path):
    from pydicom.uid import EnhancedCTImageStorage

    path = write_ct_series(tmp_path / "ct", np.zeros((2, 4, 4), np.float32))[0]
    dataset = pydicom.dcmread(path)
    dataset.SOPClassUID = EnhancedCTImageStorage
    with pytest.raises(ApplicationError, match="Enhanced CT Image Storage"):
        check_dicom(dataset, modalities=CT_MODALITIES)
