"""The filesystem transport: Celery's broker that needs no server (local runs and tests).

kombu's own filesystem transport writes a message straight into the queue folder, so a
consumer polling that folder can take the file before its bytes are written and fail on an
empty message (the worker stops with a JSONDecodeError). Ours writes each message beside the
queue folder first and renames it into place, which is atomic on one filesystem: a consumer
only ever sees complete messages. It is registered under kombu's name "filesystem", so
``filesystem://`` URLs use it in every process that loads the settings.
"""
import os
import uuid
from pathlib import Path
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


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


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: written in full, then renamed into the queue."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        staging = os.path.join(os.path.dirname(os.path.normpath(self.data_folder_out)), "staging")
        staged = os.path.join(staging, name)
        try:
            os.makedirs(staging, exist_ok=True)
            with open(staged, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(staged, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES["filesystem"] = "lesions_project.broker:Transport"
