"""The importer dispatch of ``candor models import``: modules by name, absent ones skipped."""

from pathlib import Path

import pytest

from engine.errors import InputError
from engine.models import importers


def test_absent_importers_are_skipped_and_present_ones_listed(monkeypatch):
    monkeypatch.setattr(importers, "IMPORTERS", ("engine.models.importers.not_written_yet",
                                                 "engine.models.importers.deepbet"))
    assert [m.__name__ for m in importers.available_importers()] == ["engine.models.importers.deepbet"]


def test_an_importer_whose_own_import_fails_is_not_hidden(monkeypatch, tmp_path):
    (tmp_path / "candor_broken_importer.py").write_text("import candor_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(importers, "IMPORTERS", ("candor_broken_importer",))
    with pytest.raises(ModuleNotFoundError, match="candor_no_such_dependency"):
        importers.available_importers()


def test_a_source_no_importer_knows_is_refused_by_name(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(InputError, match="no importer recognises 'notes.txt'"):
        importers.import_model(tmp_path / "notes.txt", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_each_listed_importer_has_the_interface():
    for module in importers.available_importers():
        assert callable(module.detect) and callable(module.convert)
        assert module.detect(Path("/nonexistent/for/sure")) is False
