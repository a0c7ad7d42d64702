"""The book's notebook layer: figures, tables, live plots and panels for the chapters.

The only part of tinylm that imports matplotlib, ipywidgets and IPython; what it draws comes
from the core (`tinylm.results`, `tinylm.analysis`, `tinylm.recipes`). A chapter writes
`from tinylm import notebook as nb` and then `nb.table(...)`, `nb.load_study(...)`,
`nb.training_panel()`, `nb.source(...)` (the package's code on the page): everything a
chapter uses is re-exported here.
"""

from ..analysis import (
    EFFECT_COLUMNS,
    FAMILY_NAMES,
    OPTIMA_COLUMNS,
    calibration,
    closest,
    effects,
    family_rows,
    family_verdicts,
    find,
    optima,
    optimum,
    recipe_specs,
    repetition,
    speed_factor,
    verdict_text,
    verdicts,
    your_optimum,
)
from ..recipes import changes, describe_spec, in_defaults
from ..results import (
    CHECK_COLUMNS,
    REPO,
    Study,
    calibrate_checks,
    harness_commands,
    results_dir,
    use_results,
)
from .claims import ClaimError, claim
from .classroom import ClassPage, class_figure, merge_class, study_csvs
from .display import HTML, Figure, figure, fmt, mode_note, note, png, show, table
from .figures import (
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
from .live import LiveLoss, train_recipe
from .panels import SamplingPanel, TrainingPanel, sampling_panel, training_panel
from .source import Source, source
from .views import (
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
    "ClaimError", "ClassPage", "CHECK_COLUMNS", "EFFECT_COLUMNS", "FAMILY_NAMES", "Figure", "HTML", "LiveLoss",
    "OPTIMA_COLUMNS", "REPO", "SamplingPanel", "Source", "Study", "TrainingPanel",
    "alternatives", "calibrate_checks", "calibration", "changes", "claim", "class_figure", "closest", "data_table",
    "delta_bars", "describe_spec", "effects", "effects_table", "family_rows", "family_sizes",
    "family_verdicts", "figure", "find", "fmt", "harness_commands", "in_defaults",
    "load_studies", "load_study", "loss_curves", "loss_line", "merge_class", "metrics_table",
    "mode_note", "note", "optima", "optimum", "optimum_vs_budget", "png", "prob_colour",
    "recipe_specs", "repetition", "results_dir", "samples", "sampling_panel", "show",
    "size_curves", "source", "speed_factor", "stored_samples", "study_csvs", "study_curves",
    "table", "throughput", "tokens_html", "train_recipe", "training_panel", "use_results",
    "verdict_text", "verdicts", "your_optimum",
]
