"""Presentation of results, shared by the result page and the PDF report."""
from django import template
from django.utils.formats import number_format

from studies import advice, assessability

register = template.Library()


@register.filter
def percent(fraction: float | None, decimals: int = 1) -> str:
    """0.4271 -> "42.7 %" formatted for the active language ("42,7 %" in Russian)."""
    if fraction is None:
        return "—"
    return f"{number_format(fraction * 100, decimal_pos=decimals)} %"


@register.filter
def css_percent(fraction: float | None) -> str:
    """0.4271 -> "42.71%" for CSS widths, never localised."""
    value = max(0.0, min(1.0, float(fraction or 0.0)))
    return f"{value * 100:.2f}%"


@register.filter
def class_name(code: str) -> str:
    return advice.class_name(code)


@register.simple_tag
def urgency(probabilities: dict[str, float]) -> advice.Urgency:
    return advice.urgency_for(probabilities)


@register.simple_tag
def disclaimer() -> str:
    return str(advice.DISCLAIMER)


@register.simple_tag
def assessability_reason(code: str) -> assessability.Reason:
    """Why the input gate refused an image, from its reason code (studies.assessability)."""
    return assessability.reasons_for([code])[0]
