"""What the jobs of one run share inside ``sharing_reads``: one read and one assignment per file
and layer, and one set of neighbours per layer and neighbour options."""

from __future__ import annotations

from geo_violence import load_units
from geo_violence.jobs import skeleton
from geo_violence.jobs.options import NeighbourOptions, StageOptions
from geo_violence.jobs.skeleton import Job, sharing_reads


def count_builds(monkeypatch) -> list[str]:
    built: list[str] = []
    real = skeleton.neighbours_for

    def counted(units, options):
        built.append(options.method)
        return real(units, options)

    monkeypatch.setattr(skeleton, "neighbours_for", counted)
    return built


def job(tmp_path, name: str, **neighbour_options) -> Job:
    stages = StageOptions(neighbours=NeighbourOptions(**neighbour_options))
    return Job(name, tmp_path / name, stages, files=[], row_reports=False)


def test_jobs_on_one_layer_share_its_neighbours_inside_a_shared_run(tmp_path, monkeypatch):
    built = count_builds(monkeypatch)
    units = load_units("community_areas").units
    jobs = [job(tmp_path, "emerging"), job(tmp_path, "hotspots")]
    with sharing_reads():
        first = jobs[0].neighbours(units)
        second = jobs[1].neighbours(units)
        knn = job(tmp_path, "trends", method="knn", k=4).neighbours(units)
        other_units = job(tmp_path, "compare").neighbours(units.copy())
    assert second is first  # built once for both jobs
    assert knn is not first and knn.method == "knn"  # other options: built again
    assert other_units is not first  # other units (even equal ones): built again
    assert built == ["queen", "knn", "queen"]
    # each job still records the neighbours' notes in its own notes
    assert jobs[0].notes == jobs[1].notes == first.notes


def test_outside_a_shared_run_each_job_builds_its_own(tmp_path, monkeypatch):
    built = count_builds(monkeypatch)
    units = load_units("community_areas").units
    first = job(tmp_path, "emerging").neighbours(units)
    second = job(tmp_path, "hotspots").neighbours(units)
    assert second is not first and built == ["queen", "queen"]
    assert (second.matrix != first.matrix).nnz == 0
