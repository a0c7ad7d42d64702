"""The book's notebook layer: figures, tables, live plots and panels for the chapters.

The only part of tinylm that imports matplotlib, ipywidgets and IPython; what it draws comes
from the core (`tinylm.lab.results`, `tinylm.lab.analysis`, `tinylm.lab.recipes`). A chapter writes
`from tinylm import notebook as nb` and then `nb.table(...)`, `nb.load_study(...)`,
`nb.training_panel()`, `nb.source(...)` (the package's code on the page): everything a
chapter uses is re-exported here.
"""

from tinylm.lab.analysis import (
    EFFECT_COLUMNS,
    FAMILY_NAMES,
    effects,
    family_rows,
    family_verdicts,
    find,
    flip_text,
    flips,
    recipe_specs,
    repetition,
    verdict_text,
    verdicts,
)
from tinylm.lab.noise import UNCONFIRMED, needed_margin, noise_at, repeat_spread, seed_noise, stored_noise
from tinylm.lab.recipe_card import CARD_COLUMNS, card_rows
from tinylm.lab.recipes import changes, describe_spec, in_defaults
from tinylm.lab.results import (
    CHECK_COLUMNS,
    REPO,
    Study,
    calibrate_checks,
    harness_commands,
    results_dir,
    use_results,
)
from tinylm.lab.sweeps import (
    OPTIMA_COLUMNS,
    SWEEP_COLUMNS,
    at_time,
    calibration,
    closest,
    optima,
    optimum,
    picks_text,
    rows_by_width,
    shape_of,
    speed_factor,
    width_of,
    width_rule,
    with_every_run,
    your_optimum,
)
from tinylm.notebook.claims import ClaimError, claim
from tinylm.notebook.classroom import ClassPage, class_figure, merge_class, study_csvs
from tinylm.notebook.diagrams import gpt_diagram
from tinylm.notebook.display import HTML, Figure, figure, fmt, mode_note, note, png, show, table
from tinylm.notebook.figures import (
    alternatives,
    delta_bars,
    family_sizes,
    loss_curves,
    loss_line,
    optimum_vs_budget,
    size_curves,
    study_curves,
    throughput,
)
from tinylm.notebook.goedecke import goedecke_sizes
from tinylm.notebook.live import LiveLoss, train_recipe
from tinylm.notebook.live_sampler import LiveSampler, live_sampler
from tinylm.notebook.panels import SamplingPanel, TrainingPanel, sampling_panel, training_panel
from tinylm.notebook.recipe_views import (
    attention_speed,
    margin_text,
    recipe_card,
    schedules,
    seed_spread,
    versus,
)
from tinylm.notebook.source import Source, source
from tinylm.notebook.timeline import load_timeline, timeline
from tinylm.notebook.views import (
    data_table,
    effects_table,
    load_studies,
    load_study,
    metrics_table,
    prob_colour,
    samples,
    stored_samples,
    tokens_html,
)

__all__ = [
    "CARD_COLUMNS", "CHECK_COLUMNS", "ClaimError", "ClassPage", "EFFECT_COLUMNS", "FAMILY_NAMES",
    "Figure", "HTML", "LiveLoss", "OPTIMA_COLUMNS", "REPO", "SamplingPanel", "Source", "Study",
    "SWEEP_COLUMNS", "TrainingPanel", "UNCONFIRMED", "alternatives", "at_time", "attention_speed",
    "calibrate_checks", "calibration", "card_rows", "changes", "claim", "class_figure", "closest",
    "data_table", "delta_bars", "describe_spec", "effects", "effects_table", "family_rows",
    "family_sizes", "family_verdicts", "figure", "find", "flip_text", "flips", "fmt", "gpt_diagram",
    "harness_commands", "in_defaults", "load_studies", "load_study", "load_timeline", "loss_curves",
    "loss_line", "margin_text", "merge_class", "metrics_table", "mode_note", "needed_margin",
    "noise_at", "note", "optima", "optimum", "optimum_vs_budget", "picks_text", "png",
    "prob_colour", "recipe_card", "recipe_specs", "repeat_spread", "repetition", "results_dir",
    "rows_by_width", "samples", "sampling_panel", "schedules", "seed_noise", "seed_spread",
    "shape_of", "show", "size_curves", "source", "speed_factor", "stored_noise", "stored_samples",
    "study_csvs", "study_curves", "table", "throughput", "timeline", "tokens_html", "train_recipe",
    "training_panel", "use_results", "verdict_text", "verdicts", "versus", "width_of", "width_rule",
    "with_every_run", "your_optimum",
    "LiveSampler", "live_sampler", "goedecke_sizes",
]
