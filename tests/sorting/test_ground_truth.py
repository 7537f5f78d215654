"""Ground truth through the front door: a generated recording written as an NWB ElectricalSeries,
sorted by ``sort`` with the default sorter, read back from the NWB Units and scored."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest

from nwb_tavrnn.io.files import open_nwb
from nwb_tavrnn.io.read import ragged_rows
from nwb_tavrnn.sorting import (
    JobParams,
    SortingParams,
    compare_to_ground_truth,
    params_from_description,
    sort,
    sorting_from_times,
    write_recording_nwb,
)
from nwb_tavrnn.sorting.adapter import generate_ground_truth

log = logging.getLogger(__name__)

#: 30 s x 16 channels x 10 units: reliable (9-10/10 units at 0.8 accuracy over seeds) in ~45 s.
DURATION, CHANNELS, UNITS = 30.0, 16, 10


#: Sorting the ground-truth recording takes about 90 s: the slow suite (the default suite stays under
#: 10 minutes; sorting is still exercised there by the CLI, pipeline and fault tests).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sorted_gt(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gt")
    recording, gt = generate_ground_truth(duration=DURATION, num_channels=CHANNELS, num_units=UNITS, seed=2)
    source = write_recording_nwb(recording, folder / "raw.nwb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sort(source, folder / "sorted.nwb", SortingParams(), job=JobParams(n_jobs=2))
    return source, result, gt, recording


def test_default_sorter_recovers_ground_truth(sorted_gt):
    source, result, gt, recording = sorted_gt
    with open_nwb(result.output) as nwbfile:
        units = nwbfile.units
        times = ragged_rows(units, "spike_times")
        ids = np.asarray(units.id.data[:])
        fs = 1.0 / units.resolution
        assert np.isclose(fs, recording.get_sampling_frequency())
        sorting = sorting_from_times(dict(zip(ids.tolist(), times)), fs)
        score = compare_to_ground_truth(gt, sorting, well_detected_score=0.8)
        log.info("accuracy per ground-truth unit: %s", np.round(score["accuracy"], 3))
        print(f"ground truth: {score['well_detected']}/{UNITS} units well detected (accuracy >= 0.8); "
              f"accuracy {np.round(score['accuracy'], 3).tolist()}; {score['num_sorted']} units sorted; "
              f"timings {result.timings}")
        assert score["well_detected"] >= 0.8 * UNITS

        # the Units table carries electrodes, mean waveforms, metrics and the parameters
        assert {"electrodes", "electrode_group", "waveform_mean", "snr", "firing_rate", "isi_violations_ratio",
                "passes_curation"} <= set(units.colnames)
        assert units["waveform_mean"].data.shape[0] == len(ids)
        assert units["waveform_mean"].data.shape[2] == min(8, CHANNELS)
        assert units.waveform_rate == pytest.approx(fs)
        assert np.all(np.asarray(units["snr"].data[:]) >= 3.0)  # default curation removed the rest
        stored = params_from_description(units.description)
        assert SortingParams.from_dict(stored) == result.params
        # session metadata carried over from the NWB input
        with open_nwb(source) as raw:
            assert nwbfile.session_start_time == raw.session_start_time
            assert nwbfile.subject.subject_id == raw.subject.subject_id
            assert len(nwbfile.electrodes) == len(raw.electrodes)


def test_output_passes_validators(sorted_gt):
    from nwb_tavrnn.validation import validate_file

    report = validate_file(sorted_gt[1].output)
    assert report.ok, [str(f) for f in report.problems]


def test_append_mode_adds_units_to_a_copy(sorted_gt, tmp_path):
    from nwb_tavrnn.sorting import detect_events

    source = sorted_gt[0]
    before = source.read_bytes()
    result = detect_events(source, tmp_path / "appended.nwb", mode="append")
    assert source.read_bytes() == before  # the input is never modified
    with open_nwb(result.output) as nwbfile:
        assert "ElectricalSeries" in nwbfile.acquisition
        assert len(nwbfile.units) == CHANNELS
        assert set(nwbfile.units["event_type"].data[:]) == {"threshold_crossing"}
