-- The MCP servers every deployment knows. Applied after every migration run: an upsert that
-- leaves a row alone when nothing changed, and never touches `enabled`, which operators own.

INSERT INTO mcp_servers
    (name, server_type, display_name, description, default_endpoint, transport, auth_kind, capabilities)
VALUES
    ('deepwiki', 'remote', 'DeepWiki',
     'Documentation of public GitHub repositories, generated and answered by DeepWiki.',
     'https://mcp.deepwiki.com/mcp', 'streamable-http', 'none',
     '{"tools": ["read_wiki_structure", "read_wiki_contents", "ask_question"]}'),
    ('memory', 'self-hosted', 'Memory',
     'A knowledge graph of entities, relations and observations, kept per user.',
     NULL, 'streamable-http', 'none',
     '{"tools": ["create_entities", "create_relations", "add_observations", "delete_entities",
                 "delete_observations", "delete_relations", "read_graph", "search_nodes", "open_nodes"]}'),
    ('sequential-thinking', 'self-hosted', 'Sequential Thinking',
     'Structured, revisable step-by-step reasoning.',
     NULL, 'streamable-http', 'none',
     '{"tools": ["sequentialthinking"]}'),
    ('supabase', 'remote', 'Supabase',
     'Supabase projects: tables, SQL, migrations, logs. Needs a personal access token.',
     'https://mcp.supabase.com/mcp', 'streamable-http', 'bearer',
     '{"tools": ["list_tables", "list_extensions", "list_migrations", "apply_migration", "execute_sql",
                 "get_logs", "get_project_url", "generate_typescript_types"]}')
ON CONFLICT (name) DO UPDATE SET
    server_type      = EXCLUDED.server_type,
    display_name     = EXCLUDED.display_name,
    description      = EXCLUDED.description,
    default_endpoint = EXCLUDED.default_endpoint,
    transport        = EXCLUDED.transport,
    auth_kind        = EXCLUDED.auth_kind,
    capabilities     = EXCLUDED.capabilities
WHERE (mcp_servers.server_type, mcp_servers.display_name, mcp_servers.description,
       mcp_servers.default_endpoint, mcp_servers.transport, mcp_servers.auth_kind, mcp_servers.capabilities)
      IS DISTINCT FROM
      (EXCLUDED.server_type, EXCLUDED.display_name, EXCLUDED.description,
       EXCLUDED.default_endpoint, EXCLUDED.transport, EXCLUDED.auth_kind, EXCLUDED.capabilities);
