"""`chirp post`, `reply`, `quote`, `repost`, `like`, `delete`, `thread`: the post service's commands."""

from typing import Annotated

import typer

from chirp.graph.v1 import graph_service_pb2 as graph
from chirp.post.v1 import post_service_pb2 as post
from services.cli import render
from services.cli.common import As, Json, acting, call, clients

app = typer.Typer()


@app.command("post")
def post_(text: str, as_: As) -> None:
    """Publish a post; prints its id."""
    c = clients()
    created = call(c.post.CreatePost, post.CreatePostRequest(author_id=acting(c, as_), text=text)).post
    print(created.post_id)


PostId = Annotated[int, typer.Argument(help="The post's id (as `chirp post` printed it).")]
Undo = Annotated[bool, typer.Option("--undo", help="Take it back.")]


def handles_of(c, posts) -> dict[int, str]:
    ids = {p.author_id for p in posts}
    return {i: call(c.graph.GetUser, graph.GetUserRequest(user_id=i)).user.handle for i in ids}


def show(c, posts, title: str, as_json: bool) -> None:
    handles = handles_of(c, posts)
    items = [render.stored_post_dict(p, handles[p.author_id]) for p in posts]
    render.print_json(items) if as_json else render.print_posts(title, items)


@app.command()
def reply(post_id: PostId, text: str, as_: As, json_: Json = False) -> None:
    """Reply to a post; prints the reply's id."""
    c = clients()
    request = post.CreatePostRequest(author_id=acting(c, as_), text=text, in_reply_to_post_id=post_id)
    created = call(c.post.CreatePost, request).post
    render.print_json([render.stored_post_dict(created, as_.removeprefix("@"))]) if json_ else print(created.post_id)


@app.command()
def quote(post_id: PostId, text: str, as_: As, json_: Json = False) -> None:
    """Quote a post with your own text; prints the new post's id."""
    c = clients()
    created = call(
        c.post.CreatePost, post.CreatePostRequest(author_id=acting(c, as_), text=text, quoted_post_id=post_id)
    ).post
    render.print_json([render.stored_post_dict(created, as_.removeprefix("@"))]) if json_ else print(created.post_id)


@app.command()
def repost(post_id: PostId, as_: As, undo: Undo = False, json_: Json = False) -> None:
    """Repost a post (or take the repost back with --undo)."""
    c = clients()
    user_id = acting(c, as_)
    if undo:
        call(c.post.UndoRepost, post.UndoRepostRequest(post_id=post_id, user_id=user_id))
    else:
        call(c.post.RepostPost, post.RepostPostRequest(post_id=post_id, user_id=user_id))
    report(json_, {"post_id": str(post_id), "reposted": not undo})


@app.command()
def like(post_id: PostId, as_: As, undo: Undo = False, json_: Json = False) -> None:
    """Like a post (or take the like back with --undo)."""
    c = clients()
    user_id = acting(c, as_)
    if undo:
        call(c.post.UnlikePost, post.UnlikePostRequest(post_id=post_id, user_id=user_id))
    else:
        call(c.post.LikePost, post.LikePostRequest(post_id=post_id, user_id=user_id))
    report(json_, {"post_id": str(post_id), "liked": not undo})


@app.command()
def delete(post_id: PostId, as_: As, json_: Json = False) -> None:
    """Delete one of your posts."""
    c = clients()
    call(c.post.DeletePost, post.DeletePostRequest(post_id=post_id, user_id=acting(c, as_)))
    report(json_, {"post_id": str(post_id), "deleted": True})


@app.command()
def thread(post_id: PostId, limit: Annotated[int, typer.Option(min=1, max=100)] = 20, json_: Json = False) -> None:
    """A post in its conversation: ancestors, the post, and its replies."""
    c = clients()
    response = call(c.post.GetThread, post.GetThreadRequest(post_id=post_id, page_size=limit))
    title = f"thread of {post_id}"
    if response.ancestors_truncated:
        title += f" (from its {len(response.ancestors)} nearest ancestors; the conversation starts further up)"
    show(c, [*response.ancestors, response.post, *response.replies], title, json_)


def report(as_json: bool, outcome: dict) -> None:
    render.print_json([outcome]) if as_json else print(", ".join(f"{k}: {v}" for k, v in outcome.items()))
