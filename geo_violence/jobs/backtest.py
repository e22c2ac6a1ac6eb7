"""The backtest job: replay the outreach rankings over past steps and measure what each captured
(``backtest.csv``, ``backtest_summary.csv``, ``backtest.html``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..cube.periods import parse_period
from ..errors import OptionError
from ..render.backtest import backtest_page
from ..stats.backtest import Backtest, History, Ranking, backtest, default_rankings, origin_steps
from ..stats.emerging import emerging_hotspots
from ..stats.forecast import MAX_HORIZON
from ..stats.outreach import rank_for_outreach
from .options import StageOptions, takes_stage_options
from .skeleton import Job, PreparedCube, adjacency_in_cube_order

BACKTEST_CSV = "backtest.csv"
BACKTEST_SUMMARY = "backtest_summary.csv"
BACKTEST_PAGE = "backtest.html"
BACKTEST_FILES = (BACKTEST_CSV, BACKTEST_SUMMARY, BACKTEST_PAGE)
#: Weeks of emerging hot spots behind the previous deploy.csv score.
DEPLOY_WEEKS = 52


@dataclass
class BacktestRun:
    """What :func:`run_backtest` computed."""

    prepared: PreparedCube
    result: Backtest


def previous_deploy_ranking(unit_ids: pd.Index, weeks: int = DEPLOY_WEEKS) -> Ranking:
    """The outreach order deploy.csv gave before it stood on the forecast: emerging hot spots
    of the last ``weeks`` steps and :func:`~geo_violence.stats.outreach.rank_for_outreach`'s
    points (units it leaves out last).

    Examples
    --------
    >>> previous_deploy_ranking(pd.Index(["1", "2"])).name
    'previous deploy.csv score'
    """
    ids = pd.Index(np.asarray(unit_ids).astype(str), name="unit_id")

    def rank(history: History) -> np.ndarray:
        window = np.asarray(history.counts[:, -weeks:], dtype=float)
        result = emerging_hotspots(window, sparse.csr_array(history.adjacency), ids)
        table = result.units.copy()
        table.insert(0, "name", ids.to_numpy())
        listed = rank_for_outreach(table, window, result.bins[:, -1])
        score = np.full(len(ids), -np.inf)
        score[ids.get_indexer(listed["unit_id"])] = -listed["rank"].to_numpy(dtype=float)
        return score

    return Ranking(
        "previous deploy.csv score", rank, expected=False, history=lambda horizon, step: weeks
    )


@takes_stage_options
def run_backtest(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    origins: str,
    top: tuple[int, ...] = (20,),
    horizon: int = 1,
    level: float = 0.9,
    seed: int = 0,
    stages: StageOptions,
) -> BacktestRun:
    """The ``backtest`` job: at each origin step, rank the units on the steps before it only
    (the forecast of :func:`~geo_violence.stats.forecast.forecast_counts`, the last step, the
    last 4 and 52, all history, an exponentially weighted mean, the previous deploy.csv score,
    and two ceilings that know the future), then count what happened in the next ``horizon``
    steps.

    Parameters
    ----------
    incidents_path, out_dir : str or Path
        The incident file, and the folder of the outputs.
    origins : str
        ``START..END``: the steps whose start falls in it are the origins.
    top : tuple of int
        The numbers of units ranked (``K``) the metrics are taken at.
    horizon : int
        Steps scored after each origin (at most 13).
    level : float
        Level of the forecast's prediction intervals (their coverage is scored).
    seed : int
        Seed of the bootstrap intervals.
    stages : StageOptions
        The stage options every job takes, as keywords (see :mod:`geo_violence.jobs.options`).

    Returns
    -------
    BacktestRun
        What was read and counted, and the replay: its ``rows`` (one per origin and ranking)
        and ``summary`` (one per ranking and metric, with the paired differences).
    """
    if not 1 <= horizon <= MAX_HORIZON:
        raise OptionError(f"--horizon was {horizon}; the forecast supports 1 to {MAX_HORIZON}")
    period = parse_period(origins, "--origins")
    job = Job("backtest", out_dir, stages, files=BACKTEST_FILES)
    prepared = job.prepare(incidents_path)
    cube = prepared.cube
    steps = origin_steps(cube.step_starts, str(period.first), str(period.last))
    rankings = default_rankings(cube.step, level=level)
    if cube.step == "week":
        rankings.append(previous_deploy_ranking(cube.unit_ids))
    neighbours = job.neighbours(prepared.layer.units)
    result = backtest(
        cube.counts,
        steps,
        rankings=rankings,
        top=top,
        horizon=horizon,
        step_starts=cube.step_starts,
        adjacency=adjacency_in_cube_order(cube, neighbours),
        level=level,
        seed=seed,
    )
    job.table(BACKTEST_CSV, result.rows)
    job.table(BACKTEST_SUMMARY, result.summary)
    kinds = dict(zip(result.rows["ranking"], result.rows["kind"], strict=False))
    first, last = cube.step_starts[steps[0]], cube.step_starts[steps[-1]]
    next_steps = f"the next {cube.step}" if horizon == 1 else f"the next {horizon} {cube.step}s"
    job.file(
        BACKTEST_PAGE,
        backtest_page(
            result.summary,
            top=list(top),
            title=f"Which ranking found where violence happened next ({prepared.layer.title})",
            subtitle=(
                f"{len(steps)} origin {cube.step}s from {first:%Y-%m-%d} to {last:%Y-%m-%d}, "
                f"scored on {next_steps}"
            ),
            source=prepared.source_text(),
            kinds=kinds,
            path=job.folder / BACKTEST_PAGE,
        ),
    )
    capture = result.summary[result.summary["metric"] == f"capture_{top[0]}"]
    job.finish(
        seed=seed,
        backtest={"origins": origins, "top": list(top), "horizon": horizon, "level": level},
        capture={
            str(row["ranking"]): round(float(row["mean"]), 6) for _, row in capture.iterrows()
        },
        seconds={name: round(value, 3) for name, value in result.seconds.items()},
    )
    return BacktestRun(prepared, result)
