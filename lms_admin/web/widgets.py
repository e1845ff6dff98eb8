"""The filter bars' form widgets rendered in Python, with the same HTML as Django's widget templates
(django/forms/widgets/select.html, select_option.html, input.html and attrs.html).

Through the templates a filter bar renders an include per option and per attribute list; it was a tenth of a list
page's CPU (docs/architecture.md, "Server CPU per page view"). A filter form sets
`default_renderer = FILTER_BAR_RENDERER`; any other widget template still renders as a template.
"""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape


def _attrs(attrs: dict) -> str:
    """attrs.html: ` name="value"` per attribute, ` name` alone for True, nothing for False."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input(widget: dict) -> str:
    """input.html, and text.html, date.html, … which include it."""
    value = "" if widget["value"] is None else f' value="{conditional_escape(widget["value"])}"'
    return (
        f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
        f"{value}{_attrs(widget['attrs'])}>"
    )


def _select(widget: dict) -> str:
    """select.html with select_option.html for each option (whose file ends with a newline)."""
    html = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            html.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        html.extend(
            f'\n  <option value="{conditional_escape(option["value"])}"{_attrs(option["attrs"])}>'
            f"{conditional_escape(option['label'])}</option>\n"
            for option in options
        )
        if group_name:
            html.append("\n  </optgroup>")
    html.append("\n</select>")
    return "".join(html)


WIDGETS = {
    "django/forms/widgets/input.html": _input,
    "django/forms/widgets/text.html": _input,
    "django/forms/widgets/search.html": _input,
    "django/forms/widgets/date.html": _input,
    "django/forms/widgets/number.html": _input,
    "django/forms/widgets/select.html": _select,
}


class FilterBarRenderer(DjangoTemplates):
    """Django's default form renderer, except the widgets of `WIDGETS`, which it renders in Python (as the
    renderer does, without the whitespace around the template's output)."""

    def render(self, template_name: str, context: dict, request=None) -> str:
        render = WIDGETS.get(template_name)
        if render is None:
            return super().render(template_name, context, request)
        return render(context["widget"])


# One instance: a renderer builds its template engine once.
FILTER_BAR_RENDERER = FilterBarRenderer()
