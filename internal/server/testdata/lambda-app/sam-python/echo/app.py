import json
import os


def lambda_handler(event, context):
    """Answers a message with GREETING, the route key and the message, as JSON."""
    ctx = event["requestContext"]
    return {
        "statusCode": 200,
        "body": json.dumps({
            "greeting": os.environ["GREETING"],
            "routeKey": ctx["routeKey"],
            "connectionId": ctx["connectionId"],
            "message": event.get("body"),
            "function": context.function_name,
        }),
    }
