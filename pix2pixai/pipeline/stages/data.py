"""The data step: a survey config's inputs (simulated or real) saved as ``data.npz`` + ``data.json``."""

from __future__ import annotations

from typing import Any

from pix2pixai import atomic
from pix2pixai.rundir.config import RunConfig
from pix2pixai.rundir.layout import SurveyDir
from pix2pixai.rundir.surveys import load_survey


def data_step(config: RunConfig, sdir: SurveyDir) -> dict[str, Any]:
    """Load or simulate the survey's inputs; a dmdt survey also keeps its cadence diagnostics."""
    data = load_survey(config)
    data.save(sdir.data, sdir.data_meta)
    if data.cadence is not None:
        atomic.write_json(sdir.cadence, data.cadence)
    counts = {name: int((data.group == g).sum()) for g, name in enumerate(data.group_names)}
    return {"n": int(len(data.x)), "shape": list(data.x.shape[1:]), "groups": counts}
