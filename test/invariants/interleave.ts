/**
 * A D1 binding that makes concurrent callers really overlap: every SELECT is held, after it has
 * run, until `readers` SELECTs have run. So when N callers each read and then write, all N reads
 * happen before any write, which is the interleaving a compare-and-set exists for. Without it,
 * "concurrent" calls in one isolate often run one after another and a missing guard goes unseen.
 */
export function readsBeforeWrites(d1: D1Database, readers: number): D1Database {
  let seen = 0;
  let open!: () => void;
  const allRead = new Promise<void>((resolve) => {
    open = resolve;
  });
  const real = new WeakMap<object, D1PreparedStatement>();

  const held = async <T>(run: () => Promise<T>): Promise<T> => {
    const result = await run();
    seen += 1;
    if (seen >= readers) open();
    await allRead;
    return result;
  };

  const wrap = (statement: D1PreparedStatement, query: string): D1PreparedStatement => {
    const isRead = /^\s*select\b/i.test(query);
    const proxy = new Proxy(statement, {
      get(target, name) {
        if (name === "bind") return (...values: unknown[]) => wrap(target.bind(...values), query);
        const value = Reflect.get(target, name, target);
        if (typeof value !== "function") return value;
        // workerd's native methods need their own object as `this`, never the proxy.
        const method = value.bind(target);
        if (isRead && (name === "all" || name === "raw" || name === "first" || name === "run")) {
          return (...args: unknown[]) => held(() => method(...args));
        }
        return method;
      },
    });
    real.set(proxy, statement);
    return proxy;
  };

  return new Proxy(d1, {
    get(target, name) {
      if (name === "prepare") return (query: string) => wrap(target.prepare(query), query);
      if (name === "batch") return (statements: D1PreparedStatement[]) => target.batch(statements.map((s) => real.get(s) ?? s));
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
