"""Built-in task presets."""

from i2i import hookimpl


@hookimpl
def register_tasks(register):
    """Register the task presets."""
    from i2i_plugins.tasks.paired import PairedTask

    register("paired", PairedTask)
