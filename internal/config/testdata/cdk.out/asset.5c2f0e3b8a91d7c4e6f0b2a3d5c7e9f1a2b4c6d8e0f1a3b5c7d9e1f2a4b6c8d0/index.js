exports.handler = async (event) => ({ statusCode: 200, body: "connected " + event.requestContext.connectionId });
