"""python manage.py export_labels OUT_DIR: the radiologists' labels and the studies' files."""
from pathlib import Path

from django.core.management.base import BaseCommand

from radiology.labels import labels_export


class Command(BaseCommand):
    help = ("Write OUT_DIR/labels.csv with every signed label and copy the labelled studies' "
            "de-identified files to OUT_DIR/images/<study_id>/. No patient names or IDs.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("out_dir", type=Path)

    def handle(self, *args, out_dir: Path, **options) -> None:
        count = labels_export(out_dir=out_dir)
        self.stdout.write(f"Exported {count} label(s) to {out_dir}")
