"""The books API packaged as an AWS Lambda function (step 06).

Lambda calls ``handler(event, context)`` with a JSON event; API Gateway's HTTP APIs
and Lambda function URLs send an HTTP request as such an event (payload format 2.0).
apig-wsgi turns the event into a WSGI environ, calls the Flask app, and turns its
response back into the dict Lambda returns. Configure the function with::

    handler:  helpers.mini_api.aws_lambda.handler
    env:      APP_ENV=production, SECRET_KEY=..., DATABASE_URL=postgresql+psycopg://...

The code at module level is Lambda's *init phase*: it runs once per execution
environment (the cold start), and every later ("warm") invocation in that
environment reuses the app, its configuration and its database engine. The
configuration comes from the environment, exactly as under gunicorn
(:func:`helpers.mini_api.config.load_config`), so a wrong variable fails the
init phase with a message naming it.
"""

from __future__ import annotations

from apig_wsgi import make_lambda_handler

from helpers.mini_api import create_app

__all__ = ["app", "handler"]

app = create_app()  # reads the environment; once per execution environment
handler = make_lambda_handler(app)
