"""The Areas page: load a pasted CSV (errors beside the form), list what matched nothing, map it once."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from bot.runtime import Runtime
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.test_areas import CSV, join


def test_the_areas_page_loads_lists_and_maps(client: TestClient, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    join(chat, "+14155550001", "the Mish")
    csrf = sign_in(client, make_user(runtime, "staff"))
    bad = client.post("/dashboard/areas/load", data={"csrf_token": csrf, "csv": "code,name_en\nbad code!,X\n"})
    assert bad.status_code == 400 and 'id="load-error"' in bad.text and "bad code!" in bad.text
    loaded = client.post("/dashboard/areas/load", data={"csrf_token": csrf, "csv": CSV}, follow_redirects=True)
    assert "3 areas stored" in loaded.text and "the Mish" in loaded.text  # listed as not matched
    mapped = client.post(
        "/dashboard/areas/map", data={"csrf_token": csrf, "typed": "the Mish", "code": "mission"}, follow_redirects=True
    )
    assert "1 residents moved" in mapped.text and "Every area residents gave matches" in mapped.text
    viewer = TestClient(client.app)
    sign_in(viewer, make_user(runtime, "viewer", "viewer@x.org"))
    assert viewer.get("/dashboard/areas").status_code == 403


def test_the_baseline_is_loaded_on_the_areas_page_with_who_takes_part(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    for n in range(4):
        join(chat, f"+1415555010{n}", "94110")
    csrf = sign_in(client, make_user(runtime, "staff"))
    client.post("/dashboard/areas/load", data={"csrf_token": csrf, "csv": CSV})
    bad = client.post(
        "/dashboard/areas/baseline", data={"csrf_token": csrf, "csv": "dimension,group,population\nx,y,z\n"}
    )
    assert bad.status_code == 400 and 'id="baseline-error"' in bad.text and "x,y,z" in bad.text
    baseline = "dimension,group,population,area,source\nlanguage,en,60,,Test counts\nlanguage,es,40,,\n"
    done = client.post("/dashboard/areas/baseline", data={"csrf_token": csrf, "csv": baseline}, follow_redirects=True)
    assert "Baseline: 2 counts stored." in done.text and "Test counts" in done.text
    section = done.text.split('id="representation"', 1)[1]
    assert "4 residents take part." in section
    assert '<tr class="flagged"><th scope="row" class="user-text" dir="auto">Español (es)</th>' in section
