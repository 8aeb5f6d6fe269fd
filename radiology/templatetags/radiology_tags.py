"""Presentation of radiology findings, shared by the review pages and the signed PDF."""
from django import template

from studies import findings
from studies.models import Study

register = template.Library()


@register.filter
def radiology_class(code: str, kind: str) -> str:
    """A finding's code in words: {{ code|radiology_class:study.kind }}."""
    return findings.class_name(kind, code) if code else ""


@register.filter
def urgency_label(value: int | None) -> str:
    try:
        return str(Study.Urgency(int(value)).label)
    except (TypeError, ValueError):
        return ""
