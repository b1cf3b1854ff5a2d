"""The model list (6807_models_Info.csv or any list) read through the key map, mess included."""

from __future__ import annotations

import json

import pytest

from chatgenbench.benchmark.loading import load_benchmark_catalog
from chatgenbench.benchmark.model_list import read_model_list
from chatgenbench.benchmark.official import load_key_map
from chatgenbench.cli import main
from chatgenbench.core.errors import KeyMapError

SHA = "AB" * 32
MESSY_CSV = (
    "\ufeffModel Name , Description,Base Model,TYPE,Version-ID,SHA256,Creator\n"
    '  devlishphotorealism_v40  ,"Photo-like, realistic",SD 1.5,Checkpoint,12345,' + SHA + ",ann\n"
    '"Epic, Realism","The ""best"" realism",SD 1.5,checkpoint,,,bob\n'
    "Ghibli风格 v2,吉卜力 style,SDXL 1.0,LORA,678.0,1A2B3C4D5E,chen\n"
    "Cafe\u0301Style,decomposed accent,SD 1.5,LoCon,,,dora\n"
    "DEVLISHPHOTOREALISM_V40.safetensors,a second copy,SD 1.5,Checkpoint,12345,,eve\n"
    "Epic, Realism,an unquoted comma splits this row,SD 1.5,checkpoint,,,,extra\n"
    ",row without a name,SD 1.5,Checkpoint,,,fay\n"
    "samaritan3dCartoon_v40SDXL,,,,,,\n"
    "\n"
)


@pytest.fixture
def messy_csv(tmp_path):
    path = tmp_path / "models.csv"
    path.write_bytes(MESSY_CSV.encode("utf-8"))
    return path


def test_messy_model_list_is_read_and_its_mess_counted(messy_csv):
    entries, report = read_model_list(messy_csv, load_key_map())
    by_name = {entry.name: entry for entry in entries}
    assert list(by_name) == [
        "devlishphotorealism_v40",
        "Epic, Realism",
        "Ghibli风格 v2",
        "CaféStyle",
        "Epic",
        "samaritan3dCartoon_v40SDXL",
    ]
    devlish = by_name["devlishphotorealism_v40"]
    assert (devlish.architecture, devlish.kind) == ("sd15", "checkpoint")
    assert devlish.description == "Photo-like, realistic"
    assert devlish.extra["weights"] == {
        "type": "civitai",
        "version_id": "12345",
        "sha256": SHA.lower(),
    }
    assert by_name["Epic, Realism"].description == 'The "best" realism'
    ghibli = by_name["Ghibli风格 v2"]
    assert (ghibli.architecture, ghibli.kind) == ("sdxl", "lora")
    assert ghibli.extra == {
        "weights": {"type": "civitai", "version_id": "678"},
        "hash": "1A2B3C4D5E",
    }
    assert by_name["CaféStyle"].kind == "lora"  # LoCon
    cartoon = by_name["samaritan3dCartoon_v40SDXL"]  # no architecture or kind given: inferred
    assert (cartoon.architecture, cartoon.kind) == ("sdxl", "checkpoint")
    assert "inferred" in cartoon.source
    assert report["columns"] == {
        "name": "Model Name ",
        "description": " Description",
        "architecture": "Base Model",
        "kind": "TYPE",
        "version_id": "Version-ID",
        "hash": "SHA256",
    }
    assert report["unmapped_columns"] == ["Creator"]
    assert report["encoding"] == "utf-8"
    assert report["rows"] == 8 and report["entries"] == 6
    assert report["rows_without_name"] == 1
    assert report["duplicates"] == 1 and report["conflicting_duplicates"] == 1
    assert report["duplicate_examples"] == ["DEVLISHPHOTOREALISM_V40.safetensors (row 5)"]
    assert report["names_cleaned"] == 2  # the surrounding spaces, the decomposed accent
    assert report["rows_with_extra_cells"] == 1
    # samaritan (nothing given) and the split "Epic" row (its cells shifted) are inferred
    assert report["inferred_architecture"] == 2 and report["inferred_kind"] == 2


def test_a_list_that_is_not_utf8_is_read_and_said_so(tmp_path):
    path = tmp_path / "models.csv"
    path.write_bytes("name,description\nCaféModel,caf\xe9\n".encode("cp1252"))
    entries, report = read_model_list(path, load_key_map())
    assert [entry.name for entry in entries] == ["CaféModel"]
    assert report["encoding"].startswith("cp1252")


def test_no_name_column_names_the_columns_found(tmp_path):
    path = tmp_path / "models.csv"
    path.write_text("checkpoint_title,notes\nfoo,bar\n")
    with pytest.raises(KeyMapError) as caught:
        read_model_list(path, load_key_map())
    assert "['checkpoint_title', 'notes']" in str(caught.value)
    assert "catalog_fields" in caught.value.how_to_fix
    key_map = load_key_map({"catalog_fields": {"name": ["checkpoint_title"]}})
    entries, report = read_model_list(path, key_map)
    assert [entry.name for entry in entries] == ["foo"] and report["unmapped_columns"] == ["notes"]


def test_prepare_takes_the_model_list_as_an_explicit_input(tmp_path, messy_csv):
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [
        {
            "id": "1",
            "input": "x",
            "prompt": "p",
            "model": "devlishphotorealism_v40",
            "args": {"steps": 9},
        },
        {"id": "2", "input": "y", "prompt": "q", "model": "unlisted_v1", "args": {"steps": 3}},
    ]
    (raw / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "bench"
    code = main(["prepare", "--source", str(raw), "--out", str(out), "--models", str(messy_csv)])
    assert code == 0
    catalog = load_benchmark_catalog(out)
    assert len(catalog) == 7  # the list's six and the one model only the rows name
    assert catalog.get("Ghibli风格 v2").architecture == "sdxl"
    assert catalog.get("unlisted_v1").source.startswith("benchmark rows")
    conversion = json.loads((out / "chatgenbench.json").read_text())["conversion"]
    assert conversion["catalog_file"] == str(messy_csv)
    assert conversion["model_list"]["duplicates"] == 1
    assert conversion["models_not_in_list"] == 1
    assert conversion["models_not_in_list_examples"] == ["unlisted_v1"]


def test_a_model_list_with_the_embedded_sample_is_refused(tmp_path, messy_csv, capsys):
    out = tmp_path / "bench"
    assert (
        main(["prepare", "--source", "sample", "--out", str(out), "--models", str(messy_csv)]) == 2
    )
    assert "applies to raw files" in capsys.readouterr().err
    assert not out.exists()


def test_a_kind_naming_two_aliases_takes_the_first_word():
    from chatgenbench.benchmark.model_list import alias_value
    from chatgenbench.benchmark.official import DEFAULT_KEY_MAP

    kinds = DEFAULT_KEY_MAP["kind_values"]
    assert alias_value(kinds, "LORA model") == "lora"
    assert alias_value(kinds, "LyCORIS (model)") == "lora"
    assert alias_value(kinds, "Checkpoint Merge") == "checkpoint"
    assert alias_value(kinds, "model checkpoint, LoRA baked in") == "checkpoint"
    assert alias_value(kinds, "Textual inversion") is None


HEADER_AND_ROW = "model_name,description\nCaféModel,“quoted” café\n"
BOM_VARIANTS = {
    "utf-8 mark and a latin-1 byte": (
        b"\xef\xbb\xbf" + HEADER_AND_ROW.replace("“", '"').replace("”", '"').encode("latin-1"),
        "cp1252",
    ),
    "utf-8 mark and a cp1252 byte": (b"\xef\xbb\xbf" + HEADER_AND_ROW.encode("cp1252"), "cp1252"),
    "utf-8 mark only": (b"\xef\xbb\xbf" + HEADER_AND_ROW.encode("utf-8"), "utf-8"),
    "utf-8 mark written twice": (b"\xef\xbb\xbf" * 2 + HEADER_AND_ROW.encode("utf-8"), "utf-8"),
    "utf-16 little-endian mark": (HEADER_AND_ROW.encode("utf-16-le"), "utf-16"),
    "utf-16 big-endian mark": (HEADER_AND_ROW.encode("utf-16-be"), "utf-16"),
    "utf-32 mark": (HEADER_AND_ROW.encode("utf-32"), "utf-32"),
    "no mark, a cp1252 byte": (HEADER_AND_ROW.encode("cp1252"), "cp1252"),
}


@pytest.mark.parametrize("case", sorted(BOM_VARIANTS))
def test_a_byte_order_mark_never_sticks_to_the_first_column(tmp_path, case):
    data, encoding = BOM_VARIANTS[case]
    if "utf-16" in case:
        data = (b"\xff\xfe" if "little" in case else b"\xfe\xff") + data
    path = tmp_path / "models_info.csv"
    path.write_bytes(data)
    entries, report = read_model_list(path, load_key_map())
    assert report["columns"]["name"] == "model_name"
    assert [entry.name for entry in entries] == ["CaféModel"]
    assert report["encoding"].startswith(encoding)
    mark = None if case.startswith("no mark") else case.split(" ")[0]
    assert report.get("byte_order_mark") == mark


def test_a_json_model_list_with_a_mark_and_a_latin1_byte_is_read(tmp_path):
    path = tmp_path / "models.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + '{"name": "CaféModel"}\n'.encode("latin-1"))
    entries, report = read_model_list(path, load_key_map())
    assert [entry.name for entry in entries] == ["CaféModel"]


@pytest.mark.parametrize(
    "line, problem",
    [
        ('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"name": "a\\ud800"}', "lone surrogate"),
    ],
)
def test_a_json_model_list_that_cannot_be_data_is_named(tmp_path, capsys, line, problem):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "test.jsonl").write_text(
        json.dumps(
            {"id": "a", "input": "x", "prompt": "p", "model": "m", "parameters": {"steps": 3}}
        )
    )
    (raw / "models.jsonl").write_text(line + "\n")
    with pytest.raises(KeyMapError, match=problem):
        read_model_list(raw / "models.jsonl", load_key_map())
    assert main(["prepare", "--inspect", str(raw), "--json"]) == 0
    assert problem in json.loads(capsys.readouterr().out)["model_list"]["error"]
    assert main(["prepare", "--source", str(raw), "--out", str(tmp_path / "b")]) == 2
    assert problem in capsys.readouterr().err


def test_civitai_digest_columns_become_the_weights_digests(tmp_path):
    b3, sha = "cd" * 32, "ef" * 32
    path = tmp_path / "models.csv"
    path.write_text(
        "name,Base Model,type,version_id,hashes.SHA256,hashes.BLAKE3,hashes.AutoV2\n"
        f"one,SD 1.5,Checkpoint,11,{sha},{b3.upper()},efefefefef\n"
        "two,SD 1.5,Checkpoint,12,,not-a-digest,123\n",
        "utf-8",
    )
    entries, report = read_model_list(path, load_key_map())
    by_name = {e.name: e for e in entries}
    assert by_name["one"].extra["weights"] == {
        "type": "civitai", "version_id": "11", "sha256": sha, "blake3": b3,
        "autov2": "EFEFEFEFEF",
    }  # fmt: skip
    # values that are not digests of their kind are not taken as one
    assert by_name["two"].extra["weights"] == {"type": "civitai", "version_id": "12"}
