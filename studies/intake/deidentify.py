"""De-identification of stored DICOM copies (DICOM PS3.15 Annex E, Basic Application Level
Confidentiality Profile, with the Retain Patient Characteristics and Retain Longitudinal
Full Dates options for the attributes the models and reports need).

Identifying attributes are removed or emptied, UIDs are replaced by new ones (the same new
UID for the same original within one ingest, so a series stays one series), private tags are
removed, and the file says that the patient identity was removed. The patient's name and id
are returned so that the platform can keep them in its database, under access control.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

# Attributes the Basic Profile removes or empties that occur in radiographs and CT.
IDENTIFYING = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "OtherPatientIDs",
    "OtherPatientIDsSequence", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName",
    "PatientAddress", "PatientTelephoneNumbers", "PatientReligiousPreference", "MilitaryRank",
    "EthnicGroup", "Occupation", "AdditionalPatientHistory", "PatientComments",
    "MedicalRecordLocator", "PatientInsurancePlanCodeSequence", "ResponsiblePerson",
    "ResponsibleOrganization", "IssuerOfPatientID", "ReferringPhysicianName",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "PerformingPhysicianName", "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord",
    "RequestingPhysician", "OperatorsName", "ScheduledPerformingPhysicianName",
    "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
    "DeviceSerialNumber", "AccessionNumber", "StudyID", "RequestAttributesSequence",
    "AdmissionID", "ImageComments", "StudyComments", "RequestedProcedureDescription",
    "PerformedProcedureStepID", "ScheduledProcedureStepID", "ContentCreatorName",
    "PersonName", "Allergies", "CountryOfResidence", "RegionOfResidence",
)
# Replaced by new UIDs, consistently within one ingest.
UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
        "MediaStorageSOPInstanceUID")
# Kept deliberately (Retain Patient Characteristics, Retain Longitudinal Full Dates): age,
# sex, size and weight, view position, study and series dates, and all geometry.
KEPT_FOR_MODELS = ("PatientAge", "PatientSex", "PatientSize", "PatientWeight", "ViewPosition",
                   "StudyDate", "SeriesDate", "PixelSpacing", "SliceThickness",
                   "ImagePositionPatient", "ImageOrientationPatient")


@dataclass(frozen=True)
class Identity:
    patient_name: str
    patient_id: str


class UidMap:
    """Original UID -> new UID, the same for every file of one ingest."""

    def __init__(self):
        self._new: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        return self._new.setdefault(str(uid), generate_uid())


def deidentify(dataset: Dataset, uids: UidMap) -> Identity:
    """Strip identifying data from ``dataset`` in place and return who it was."""
    identity = Identity(patient_name=str(dataset.get("PatientName", "") or ""),
                        patient_id=str(dataset.get("PatientID", "") or ""))
    dataset.remove_private_tags()
    for keyword in IDENTIFYING:
        if keyword in dataset:
            delattr(dataset, keyword)
    for keyword in UIDS:
        if keyword in dataset:
            setattr(dataset, keyword, uids(getattr(dataset, keyword)))
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.PatientName = ""
    dataset.PatientID = ""
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "PS3.15 E.1 Basic; retain patient chars, dates"
    return identity
