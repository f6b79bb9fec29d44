# syntax=docker/dockerfile:1
# The image of one app, chosen by the APP build argument: order, billing, stock or delivery.
# Build from the repository root: it needs requirements.txt, dapr-helpers/, the app's folder
# and web/'s package.json and package-lock.json (Swagger UI for the API docs, no CDN).
#   docker build --build-arg APP=order -t order-saga/order-app:0.1.0 .    (or: make images)
# The order app runs its API and the saga's workflow worker in one process.
# Kubernetes runs each image with a read-only root filesystem and /tmp mounted writable.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG NODE_IMAGE=node:22.20.0-bookworm-slim
ARG APP

# Swagger UI's files, from the npm package web/ pins (as `make web-assets` does locally).
# --ignore-scripts: its one dependency (@scarf/scarf) would report the install online.
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && mkdir dist \
 && cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
       node_modules/swagger-ui-dist/favicon-32x32.png dist/

FROM ${PYTHON_IMAGE} AS build
ARG APP
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.txt ./
COPY dapr-helpers/ dapr-helpers/
# Into the package, whose package data they are: the API docs serve them (dapr_helpers.docs).
COPY --from=web /web/dist/ dapr-helpers/src/dapr_helpers/swagger_ui/
COPY ${APP}-app/ ${APP}-app/
# Only what the two packages need at run time, each at the version requirements.txt pins
# (the test and chart tooling pinned there stays out of the image).
RUN pip install --constraint requirements.txt ./dapr-helpers ./${APP}-app

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /tmp
USER 10001:10001

# Each app's port and command (as dapr.yaml starts it); the last stage picks APP's.
FROM runtime AS order
EXPOSE 8001
CMD ["python", "-m", "uvicorn", "--factory", "order_app.main:create_app", "--host", "0.0.0.0", "--port", "8001", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "75"]

FROM runtime AS billing
EXPOSE 8002
CMD ["python", "-m", "uvicorn", "--factory", "billing_app.main:create_app", "--host", "0.0.0.0", "--port", "8002", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "75"]

FROM runtime AS stock
EXPOSE 8003
CMD ["python", "-m", "uvicorn", "--factory", "stock_app.main:create_app", "--host", "0.0.0.0", "--port", "8003", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "75"]

FROM runtime AS delivery
EXPOSE 8004
CMD ["python", "-m", "uvicorn", "--factory", "delivery_app.main:create_app", "--host", "0.0.0.0", "--port", "8004", "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "75"]

FROM ${APP}
