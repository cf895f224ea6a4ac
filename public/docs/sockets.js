// Renders /api/asyncapi.json as a readable page: channels, their authentication and close codes,
// and each message with its payload schema. Plain DOM, no framework or CDN, so it works offline.
(async () => {
  const root = document.getElementById("sockets");
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  };
  // Markdown-lite: `code` and **bold**, so the document's descriptions read well without a parser.
  const inline = (text = "", into = el("span")) => {
    for (const part of text.split(/(`[^`]+`|\*\*[^*]+\*\*)/)) {
      if (part.startsWith("`") && part.endsWith("`")) into.append(el("code", {}, part.slice(1, -1)));
      else if (part.startsWith("**") && part.endsWith("**")) into.append(el("strong", {}, part.slice(2, -2)));
      else if (part) into.append(part);
    }
    return into;
  };
  const prose = (text = "") => text.split(/\n\n+/).map((para) => inline(para, el("p")));
  let doc;
  try {
    const res = await fetch("/api/asyncapi.json");
    doc = await res.json();
  } catch (error) {
    root.replaceChildren(el("p", {}, `Could not load /api/asyncapi.json: ${error}`));
    return;
  }
  const resolve = (ref) =>
    ref.replace(/^#\//, "").split("/").reduce((node, key) => (node ? node[key.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined), doc);
  // A channel's message is itself a reference to components.messages: follow references all the way.
  const deref = (value) => {
    let node = value;
    for (let hops = 0; node && node.$ref && hops < 8; hops += 1) node = resolve(node.$ref);
    return node;
  };
  const schemaName = (payload) => (payload && payload.$ref ? payload.$ref.split("/").pop() : "");

  const messageBlock = (message, direction) => {
    const m = deref(message);
    const payload = deref(m.payload);
    return el(
      "details",
      { class: `message ${direction}`, id: `message-${m.name}` },
      el("summary", {}, el("span", { class: "dir" }, direction === "in" ? "client → server" : "server → client"), " ", el("strong", {}, m.name), " — ", inline(m.summary)),
      el("pre", {}, JSON.stringify(payload, null, 2)),
      el("p", { class: "ref" }, `Schema: components.schemas.${schemaName(m.payload)}`),
    );
  };

  const channelSection = ([id, channel]) => {
    const ops = Object.values(doc.operations).filter((op) => op.channel.$ref === `#/channels/${id}`);
    const inbound = ops.filter((op) => op.action === "receive").flatMap((op) => op.messages);
    const outbound = ops.filter((op) => op.action === "send").flatMap((op) => op.messages);
    const ws = channel.bindings?.ws ?? {};
    const query = Object.entries(ws.query?.properties ?? {});
    const closes = Object.entries(channel["x-close-codes"] ?? {});
    return el(
      "section",
      { id: `channel-${id}` },
      el("h2", {}, channel.title, " ", el("code", {}, `GET ${channel.address}`)),
      ...prose(channel.description),
      el(
        "dl",
        {},
        el("dt", {}, "Who"),
        el("dd", {}, (channel["x-roles"] ?? []).join(", ")),
        el("dt", {}, "Subprotocols"),
        el("dd", {}, (channel["x-subprotocols"] ?? []).flatMap((p, i) => [i ? ", " : "", el("code", {}, p)]), " + ", el("code", {}, "bearer.<access token>"), " or ", el("code", {}, "?ticket=")),
      ),
      query.length ? el("h3", {}, "Query") : "",
      query.length
        ? el("table", {}, query.map(([name, q]) => el("tr", {}, el("td", {}, el("code", {}, name)), el("td", {}, q.type), el("td", {}, q.description || ""))))
        : "",
      el("h3", {}, "Close codes"),
      el("table", {}, closes.map(([code, text]) => el("tr", {}, el("td", {}, el("code", {}, code)), el("td", {}, text)))),
      el("h3", {}, `Messages (${inbound.length} in, ${outbound.length} out)`),
      inbound.map((m) => messageBlock(m, "in")),
      outbound.map((m) => messageBlock(m, "out")),
    );
  };

  const channels = Object.entries(doc.channels);
  root.replaceChildren(
    el("h1", {}, doc.info.title, " ", el("small", {}, `AsyncAPI ${doc.asyncapi}, v${doc.info.version}`)),
    ...prose(doc.info.description),
    el("nav", {}, el("ul", {}, channels.map(([id, c]) => el("li", {}, el("a", { href: `#channel-${id}` }, c.title), " ", el("code", {}, c.address))))),
    ...channels.map(channelSection),
  );
})();
