"""The filesystem transport: Celery's broker that needs no server (local runs and tests)."""
from pathlib import Path


def filesystem_options(folder: Path) -> dict:
    """Transport options for a filesystem broker kept in ``folder``.

    The transport writes to data_folder_out and reads from data_folder_in, so both name the
    same folder for producers and the worker to meet.
    """
    return {
        "data_folder_in": str(folder / "in"),
        "data_folder_out": str(folder / "in"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        # seconds between looks at the queue folder: keeps the wait for a free worker short
        "polling_interval": 0.1,
    }
