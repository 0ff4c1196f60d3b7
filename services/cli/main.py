"""`chirp`: the command line of Chirp. Each command module brings its own commands; this module only composes them.
They speak gRPC to the services; `admin`, `status`, `projections` and the timeline's operator commands also reach
the infrastructure. Heavy modules (faust, the text rules) are imported only by the commands that use them."""

import typer

from services.cli import (
    admin_commands,
    deadletter_commands,
    demo,
    filter_commands,
    graph_commands,
    identity_commands,
    notification_commands,
    post_commands,
    projection_commands,
    search_commands,
    text_command,
    timeline_commands,
    trends_commands,
)

app = typer.Typer(help="Chirp: post, follow, read timelines and notifications, search, trends.", no_args_is_help=True)
app.add_typer(identity_commands.app)
app.add_typer(graph_commands.app)
app.add_typer(post_commands.app)
app.add_typer(timeline_commands.app, name="timeline")
app.add_typer(notification_commands.app, name="notifications")
app.add_typer(trends_commands.app, name="trends")
app.add_typer(projection_commands.app, name="projections")
app.add_typer(deadletter_commands.app, name="deadletters")
app.add_typer(search_commands.app, name="search")
app.add_typer(filter_commands.app, name="filters")
app.add_typer(text_command.app, name="text")
app.add_typer(admin_commands.app)
app.add_typer(demo.app, name="demo")

if __name__ == "__main__":
    app()
