from tests.integration.mcp.hosted.conftest import parsed, text


def test_scratch(memory, mode, token_for, make_user_id):
    alice = token_for(make_user_id("alice"))
    async def work(client):
        tools = await client.list_tools()
        r1 = await client.call_tool("create_entities", {"entities": [{"name": "Ada", "entityType": "person", "observations": ["wrote programs"]}]})
        r2 = await client.call_tool("read_graph", {})
        return tools, r1, r2
    tools, r1, r2 = memory.session(alice, mode, work)
    print([t.name for t in tools.tools])
    print(r1)
    print(r2)
    raw = memory.post(alice, "GET")
    print(raw.status_code, raw.headers, raw.text)
    raw = memory.post(None, "POST", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, **{"Content-Type": "application/json"})
    print(raw.status_code, raw.headers, raw.text)
