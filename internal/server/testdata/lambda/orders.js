// orders.js is a Lambda custom (AWS, non-proxy) integration's handler: it receives the
// request template's output, not a proxy event.
exports.handler = async (event) => {
  if (!event.order || typeof event.order.item !== "string") {
    throw new Error("Invalid order: no item");
  }
  if (event.order.qty > 10) {
    throw new RangeError(`Too many: ${event.order.qty}`);
  }
  return { placed: event.order.item, qty: event.order.qty, connectionId: event.connectionId };
};
