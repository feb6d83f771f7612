// jobgate's GraphiQL page: every file it loads is served by the gateway itself (no network).
// Queries go to this page's own URL over HTTP; subscriptions over graphql-transport-ws on the
// same URL. What the Headers pane holds (e.g. {"x-api-key": "..."}) is sent with every query and,
// for subscriptions, as the WebSocket's connection_init payload. Headers are not stored in the
// browser (a credential must not outlive the tab).
"use strict";

const EXAMPLE_QUERY = `# jobgate: one schema in front of four vendors' job APIs.
# Ids are "<source>:<native id>". Run this with Ctrl-Enter (or the play button);
# the Docs pane (top left) describes every type and field.
{
  jobs(ids: ["hub:6161", "field:1009", "ingest:7505e000001NLkPAAW", "gis:j3Rw7"]) {
    id
    provider
    status
    providerStatus
    allowedActions
  }
}
`;

const pageURL = window.location.href.split(/[?#]/)[0];
const socketURL = pageURL.replace(/^http/, "ws");
const params = new URLSearchParams(window.location.search);

const fetcher = GraphiQL.createFetcher({ url: pageURL, subscriptionUrl: socketURL });

function remember(name, value) {
  if (value) params.set(name, value);
  else params.delete(name);
  const search = params.toString();
  history.replaceState(null, "", search ? "?" + search : window.location.pathname);
}

function Page() {
  return React.createElement(GraphiQL, {
    fetcher,
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    defaultQuery: EXAMPLE_QUERY,
    query: params.get("q") || undefined,
    variables: params.get("variables") || undefined,
    onEditQuery: (text) => remember("q", text),
    onEditVariables: (text) => remember("variables", text),
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Page));
