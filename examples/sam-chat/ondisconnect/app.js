// $disconnect: forgets the connection id. Ported from aws-samples/simple-websockets-chat-app
// (MIT-0) to ES modules and the AWS SDK for JavaScript v3; see ../README.md.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, DeleteCommand } from "@aws-sdk/lib-dynamodb";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  try {
    await ddb.send(new DeleteCommand({
      TableName: process.env.TABLE_NAME,
      Key: { connectionId: event.requestContext.connectionId },
    }));
  } catch (err) {
    return { statusCode: 500, body: "Failed to disconnect: " + err.name };
  }
  return { statusCode: 200, body: "Disconnected." };
};
