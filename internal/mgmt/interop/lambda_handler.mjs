// A chat Lambda function written the way AWS's documentation shows (API Gateway
// Developer Guide, "Sending data from backend services to connected clients"; AWS's
// simple-websockets-chat-app): the @connections endpoint is built from the event's
// requestContext, https://${domainName}/${stage}, and credentials and region come from
// the environment, as in Lambda. It posts "echo: <text>" back to the sender and returns
// the request id the SDK read from the answer. Run by lambda_run.mjs for
// TestNodeLambdaPostsThroughTheWebSocketHost (internal/server/connections_host_test.go).
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";

export const handler = async (event) => {
  const { domainName, stage, connectionId } = event.requestContext;
  const client = new ApiGatewayManagementApiClient({
    endpoint: `https://${domainName}/${stage}`,
  });
  const { text } = JSON.parse(event.body);
  const out = await client.send(
    new PostToConnectionCommand({ ConnectionId: connectionId, Data: `echo: ${text}` }),
  );
  return {
    statusCode: 200,
    body: JSON.stringify({ endpoint: `https://${domainName}/${stage}`, requestId: out.$metadata.requestId ?? "" }),
  };
};
