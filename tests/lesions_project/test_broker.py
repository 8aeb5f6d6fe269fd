"""The filesystem broker never shows a consumer a half-written message."""
import json
import os
import shutil
import threading

from kombu import Connection

from lesions_project import broker
from lesions_project.broker import filesystem_options


def test_filesystem_urls_use_the_atomic_transport(tmp_path):
    for folder in ("in", "processed", "control"):
        (tmp_path / folder).mkdir()
    with Connection("filesystem://", transport_options=filesystem_options(tmp_path)) as connection:
        assert isinstance(connection.transport, broker.Transport)
        queue = connection.SimpleQueue("studies")
        queue.put({"study": "abc"})
        assert queue.get(timeout=2).payload == {"study": "abc"}
        queue.close()
    assert not os.listdir(tmp_path / "staging")


def test_a_consumer_racing_the_producer_reads_only_whole_messages(tmp_path):
    """What kombu's consumer does (move the file out of the queue folder, then read it),
    run as fast as possible against a producer writing large messages."""
    options = filesystem_options(tmp_path)
    os.makedirs(options["data_folder_in"])
    taken = tmp_path / "taken"
    taken.mkdir()
    stop = threading.Event()
    payloads: list[bytes] = []

    def consume() -> None:
        while not stop.is_set() or os.listdir(options["data_folder_in"]):
            for name in os.listdir(options["data_folder_in"]):
                shutil.move(os.path.join(options["data_folder_in"], name), taken / name)
                payloads.append((taken / name).read_bytes())

    consumer = threading.Thread(target=consume)
    consumer.start()
    with Connection("filesystem://", transport_options=options) as connection:
        channel = connection.default_channel
        for index in range(200):
            channel._put("studies", {"index": index, "padding": "x" * 200_000})
    stop.set()
    consumer.join(timeout=30)
    assert len(payloads) == 200
    assert sorted(json.loads(p)["index"] for p in payloads) == list(range(200))
