"""Turning uploaded radiology files into studies: DICOM checks and de-identification."""
