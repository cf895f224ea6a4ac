// The floor for bench/foundation.mjs: the cheapest Worker there is. No framework, no middleware, no
// bindings; every request gets the same tiny JSON body. Whatever our API costs above this, it adds.
export default {
  fetch(): Response {
    return Response.json({ success: true, message: "floor", data: null });
  },
};
