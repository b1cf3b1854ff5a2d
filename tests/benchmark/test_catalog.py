from __future__ import annotations

import pytest

from chatgenbench.benchmark.catalog import CatalogError, ModelCatalog, load_catalog, sample_catalog


def test_sample_catalog_has_every_sample_model(sample_rows):
    catalog = sample_catalog()
    assert len(catalog) == 14  # 12 paper models and two base checkpoints
    for row in sample_rows:
        entry = catalog.get(row["model"])
        assert entry is not None and entry.description == row["model_description"]
    assert catalog.get("samaritan3dCartoon_v40SDXL").architecture == "sdxl"
    assert catalog.get("Small_Mostersv2").kind == "lora"
    assert {e.architecture for e in catalog} == {"sd15", "sdxl"}


def test_lookup_is_normalised_and_suggests():
    catalog = sample_catalog()
    assert "RAWXS_V2.safetensors" in catalog
    assert "rawXs_v3" not in catalog
    assert catalog.suggest("rawXs_v3") == ["rawXs_v2"]
    assert catalog.suggest(None) == []


def test_catalog_round_trip_keeps_extra_fields(tmp_path):
    catalog = sample_catalog()
    path = catalog.to_jsonl(tmp_path / "catalog.jsonl")
    assert load_catalog(path).names() == catalog.names()
    assert load_catalog(tmp_path).names() == catalog.names()  # a folder means its catalog.jsonl
    (tmp_path / "extra.jsonl").write_text(
        '{"name": "m", "architecture": "sd15", "kind": "lora", "base": "b", '
        '"weights": {"type": "single_file", "path": "m.safetensors"}}\n'
    )
    entry = load_catalog(tmp_path / "extra.jsonl").get("m")
    assert entry.extra == {"base": "b", "weights": {"type": "single_file", "path": "m.safetensors"}}


def test_catalog_csv(tmp_path):
    path = tmp_path / "models.csv"
    path.write_text("name,description,architecture,kind\nfoo,Foo model,sdxl,checkpoint\n")
    catalog = load_catalog(path)
    assert catalog.get("FOO").architecture == "sdxl"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"name": "m", "architecture": "sd3", "kind": "lora"}', "architecture"),
        ('{"name": "m", "architecture": "sd15", "kind": "embedding"}', "kind"),
        ('{"architecture": "sd15", "kind": "lora"}', "name"),
        ("not json", "line 1"),
    ],
)
def test_bad_catalogue_lines_name_the_problem(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def test_duplicate_names_after_normalisation_are_refused():
    from chatgenbench.benchmark.catalog import CatalogEntry

    with pytest.raises(CatalogError, match="duplicate"):
        ModelCatalog(
            [CatalogEntry("A", "sd15", "lora"), CatalogEntry("a.safetensors", "sd15", "lora")]
        )


def test_missing_catalogue_file(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope.jsonl")
