"""The ceiling for bench/chat_path.py: the same server stack as Madoguchi (uvicorn, Starlette's
WebSocket, FastAPI routing) doing no application work at all, so the chat path's numbers can be read
as a fraction of what this process model could ever do on this machine.

Run by chat_path.py as ``python -m uvicorn echo_server:app --app-dir bench ...``.
"""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI(title="echo")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            # Text in, the same text out: no JSON parsing, so the ceiling is the transport alone.
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        return
