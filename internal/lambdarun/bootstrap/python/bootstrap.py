"""wsgate's Python bootstrap: a Lambda Runtime API (2018-06-01) client, standard
library only, that loads the handler named by _HANDLER ("module.function",
"pkg/module.function") from LAMBDA_TASK_ROOT and runs invocations one at a time."""

import http.client
import importlib
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime/"
_conn = None


def request(method, path, body=None, headers=None):
    global _conn
    for attempt in (0, 1):
        if _conn is None:
            _conn = http.client.HTTPConnection(API)
        try:
            h = dict(headers or {})
            if body is not None:
                h["Content-Type"] = "application/json"
            _conn.request(method, PREFIX + path, body=body, headers=h)
            res = _conn.getresponse()
            data = res.read()
            return res.status, res.headers, data
        except (http.client.HTTPException, ConnectionError):
            _conn.close()
            _conn = None
            if attempt:
                raise


class LambdaContext:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        cc = headers.get("Lambda-Runtime-Client-Context")
        self.client_context = json.loads(cc) if cc else None
        ci = headers.get("Lambda-Runtime-Cognito-Identity")
        self.identity = json.loads(ci) if ci else None

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_object(exc, error_type=None):
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def post_error(path, obj):
    print(json.dumps({k: v for k, v in obj.items() if k != "requestId"}), file=sys.stderr)
    request("POST", path, json.dumps(obj), {"Lambda-Runtime-Function-Error-Type": obj["errorType"]})


def load_handler():
    spec = os.environ.get("_HANDLER", "")
    mod_path, _, fn_name = spec.rpartition(".")
    if not mod_path or not fn_name:
        raise InitError("Runtime.MalformedHandlerName", "Bad handler '%s': not enough values to unpack" % spec)
    root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    if root not in sys.path:
        sys.path.insert(0, root)
    name = mod_path.replace("/", ".")
    try:
        mod = importlib.import_module(name)
    except ImportError as e:
        raise InitError("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (mod_path, e))
    except SyntaxError as e:
        raise InitError("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (mod_path, e))
    fn = getattr(mod, fn_name, None)
    if fn is None:
        raise InitError("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (fn_name, mod_path))
    return fn


class InitError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def main():
    try:
        handler = load_handler()
    except InitError as e:
        post_error("init/error", {"errorMessage": str(e), "errorType": e.error_type, "requestId": "", "stackTrace": []})
        sys.exit(1)
    except Exception as e:  # an exception raised by the module's own code on import
        post_error("init/error", error_object(e))
        sys.exit(1)
    while True:
        status, headers, body = request("GET", "invocation/next")
        if status != 200:
            print("runtime API: next: %d" % status, file=sys.stderr)
            sys.exit(1)
        rid = headers.get("Lambda-Runtime-Aws-Request-Id")
        if headers.get("Lambda-Runtime-Trace-Id"):
            os.environ["_X_AMZN_TRACE_ID"] = headers.get("Lambda-Runtime-Trace-Id")
        try:
            event = json.loads(body) if body else None
        except ValueError as e:
            post_error("invocation/%s/error" % rid, dict(error_object(e, "Runtime.UnmarshalError"), requestId=rid))
            continue
        try:
            result = handler(event, LambdaContext(headers))
        except Exception as e:
            post_error("invocation/%s/error" % rid, dict(error_object(e), requestId=rid))
            continue
        try:
            out = json.dumps(result)
        except (TypeError, ValueError) as e:
            post_error("invocation/%s/error" % rid, {"errorMessage": "Unable to marshal response: %s" % e,
                                                     "errorType": "Runtime.MarshalError", "requestId": rid, "stackTrace": []})
            continue
        request("POST", "invocation/%s/response" % rid, out)


if __name__ == "__main__":
    main()
