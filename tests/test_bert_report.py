"""A text model's figures in the reports: sequences/sec in its own unit,
tokens/sec beside it, its sequence length, and a note where pages mix it
with image models."""

from __future__ import annotations

from test_report import run

from keras_profiler import records, report


def bert_record(run_id: str, backend: str):
    # 320 sequences of 16 tokens in the 2-second steady epoch: 160
    # sequences/sec, 2,560 tokens/sec.
    result = run(run_id, backend, 1, model="bert_base", dataset="tokens", sequence_length=16)
    result.model = {
        "name": "bert_base",
        "parameters": 109_514_298,
        "image_size": None,
        "sequence_length": 16,
        "sample_unit": "sequences",
    }
    return result


def test_a_text_models_page_says_sequences_and_tokens_per_second(tmp_path):
    for each in (bert_record("bert-jax", "jax"), run("resnet-jax", "jax", 1)):
        records.write(each, tmp_path / "results")
    report.generate(tmp_path / "results", tmp_path / "reports")
    page = (tmp_path / "reports" / "bert_base.md").read_text()
    assert "### Sequences/sec by backend and device count" in page
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in page.splitlines()
        if line.startswith("| ") and line.count("|") == 3
    }
    assert rows["Sequences processed per sec, steady state (epoch clock)"] == "160.00"
    assert rows["Tokens processed per sec, steady state (epoch clock)"] == "2560.0"
    assert "* `Sequence length` - 16 tokens" in page
    assert "images" not in page.lower().replace("images/sec", "")  # no image words left
    # The image model's page is as it was, and the mixed pages say what a sample is.
    assert (
        "### Images/sec by backend and device count"
        in (tmp_path / "reports" / "resnet50.md").read_text()
    )
    assert "images/sec are sequences/sec" in (tmp_path / "reports" / "scaling.md").read_text()
    assert "Tokens processed" not in (tmp_path / "reports" / "resnet50.md").read_text()
