// sendmessage: posts the message's data to every stored connection; a connection API
// Gateway answers 410 (GoneException) for is removed. Ported from
// aws-samples/simple-websockets-chat-app (MIT-0) to ES modules and the AWS SDK for
// JavaScript v3; see ../README.md.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, ScanCommand, DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  let connections;
  try {
    connections = await ddb.send(new ScanCommand({ TableName: process.env.TABLE_NAME, ProjectionExpression: "connectionId" }));
  } catch (err) {
    return { statusCode: 500, body: err.name };
  }

  const api = new ApiGatewayManagementApiClient({
    endpoint: `https://${event.requestContext.domainName}/${event.requestContext.stage}`,
  });
  const data = JSON.parse(event.body).data;

  const posts = connections.Items.map(async ({ connectionId }) => {
    try {
      await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    } catch (err) {
      if (err.name !== "GoneException") {
        throw err;
      }
      console.log(`Found stale connection, deleting ${connectionId}`);
      await ddb.send(new DeleteCommand({ TableName: process.env.TABLE_NAME, Key: { connectionId } }));
    }
  });
  try {
    await Promise.all(posts);
  } catch (err) {
    return { statusCode: 500, body: err.name };
  }
  return { statusCode: 200, body: "Data sent." };
};
