"""Public 三亮 pages: a department's duties, its staff and its figures, without a login."""

from __future__ import annotations


async def test_department_page_shows_duties_staff_and_figures(web):
    web.add_user("scjg1", "hz-scjg", name="王晓明", number="SCJG-0101")
    web.add_user("scjglead", "hz-scjg", "lead", name="李建国", number="SCJG-0001")
    web.add_user("tax1", "hz-tax", name="不该出现", number="TAX-1")

    page = await web.client.get("/departments/hz-scjg")

    assert page.status_code == 200
    text = page.text
    assert "<h1>菏泽市市场监督管理局</h1>" in text
    assert "市场主体登记" in text  # a duty from knowledge/data/departments.yml
    assert "王晓明" in text and "SCJG-0101" in text and "李建国" in text and "科室负责人" in text
    assert "不该出现" not in text
    assert "按期办结率" in text and "平均首次响应" in text and "平均评分" in text


async def test_department_json_figures_follow_the_cases(web, clock):
    staff = await web.as_user("scjg1", "hz-scjg", name="王晓明", number="SCJG-0101")
    ticket = await web.create_ticket(conversation_id="conv-rated")
    await web.create_ticket()
    clock.advance(hours=2)
    await staff.act(ticket["id"], "claim")
    await staff.act(ticket["id"], "reply", {"text": "已答复"})
    await staff.act(ticket["id"], "resolve")
    await web.internal_post(
        f"/api/internal/tickets/{ticket['id']}/feedback",
        {"conversation_id": "conv-rated", "solved": True, "rating": 4},
    )

    body = (await web.client.get("/api/departments/hz-scjg")).json()["department"]

    assert body["name"] == "菏泽市市场监督管理局"
    assert body["duties"][0].startswith("市场主体登记")
    assert body["staff"] == [{"name": "王晓明", "number": "SCJG-0101", "role": "staff"}]
    assert body["figures"] == {
        "cases": 2,
        "resolved": 1,
        "on_time_rate": 1.0,
        "avg_first_response_hours": 2.0,
        "avg_rating": 4.0,
        "rated": 1,
    }
    assert "mobile" not in str(body) and "conv-rated" not in str(body)  # no case details in public


async def test_index_lists_every_department_and_unknown_is_404(web, knowledge):
    index = await web.client.get("/departments")
    assert index.status_code == 200
    for code in knowledge.departments:
        assert f'href="/departments/{code}"' in index.text

    page = await web.client.get("/departments/nowhere")
    assert page.status_code == 404 and "未找到该部门" in page.text
    api = await web.client.get("/api/departments/nowhere")
    assert api.status_code == 404
    assert api.json()["error"] == "未找到该部门：nowhere"
