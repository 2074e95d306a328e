"""One citation style for every reference: "Bizzotto et al. 2023", never "Bizzotto and others".

A BibTeX author list that ends in ``and others`` means "and further authors not listed". pybtex
and sphinxcontrib-bibtex treat ``others`` as a person's name and join it with "and", so a
reference with one listed author read "Bizzotto and others" beside "Ni et al.". This extension
replaces the name-list template of both (the in-text labels and the bibliography) with one that
drops ``others`` and writes "et al." instead.
"""
from __future__ import annotations


def _listed(persons):
    real = [person for person in persons if str(person).strip().lower() != "others"]
    return real, len(real) != len(persons)


def _patch_in_text():
    from pybtex.richtext import Tag, Text
    from sphinxcontrib.bibtex.style import referencing
    from sphinxcontrib.bibtex.style import template
    from pybtex.style.template import FieldIsMissing

    original = template.names

    @template.node
    def names(children, data, role, **kwargs):
        assert not children
        try:
            persons = data["entry"].persons[role]
        except KeyError:
            raise FieldIsMissing(role, data["entry"])
        real, truncated = _listed(persons)
        if not truncated:
            return original(role=role, **kwargs).format_data(data)
        style = data["style"]
        first = style.person.style_plugin.format(real[0], style.person.abbreviate).format_data(data)
        return Text(first, " ", Tag("em", "et al."))

    template.names = names
    referencing.names = names


def _patch_bibliography():
    from pybtex.richtext import Text
    from pybtex.style import template
    from pybtex.style.formatting import unsrt

    original = template.names

    @template.node
    def names(children, context, role, **kwargs):
        persons = context["entry"].persons.get(role, [])
        real, truncated = _listed(persons)
        if not truncated:
            return original(role=role, **kwargs).format_data(context)
        style = context["style"]
        listed = [style.format_name(person, style.abbreviate_names) for person in real]
        joined = template.join(sep=", ")[listed].format_data(context)
        return Text(joined, ", et al.")

    unsrt.names = names


def setup(app):
    _patch_in_text()
    _patch_bibliography()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
