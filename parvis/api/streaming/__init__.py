"""Mastodon's streaming API: timelines and notifications pushed to clients as they happen.

Two transports, as Mastodon's streaming server has them: a WebSocket at
``/api/v1/streaming`` that carries several streams (``user``, ``user:notification``,
``public``, ``public:local``, ``public:remote``, their ``:media`` variants, ``hashtag``,
``hashtag:local``), and server-sent events at ``/api/v1/streaming/<stream>``.

Where it runs. Streaming connections last hours; Django's views of a process run on one
thread (parvis/asgi.py), so a stream cannot be a Django view: :mod:`.app` is a small ASGI
application beside Django, and each connection waits on the event loop of its process
(:mod:`.hub`).

Where the events come from: each web process has one poller thread (:mod:`.poller`),
started with the process's first streaming connection and idle while it has none, which
reads the tables every ``PARVIS_STREAMING_POLL_SECONDS`` (0.5 s): posts created, edited and
deleted since its previous pass, and the new notifications of the accounts connected to
this process. It renders each entity once per event and audience (anonymously for the
public streams, as the account for its own streams) and hands the frames to the
connections that should get them.

Why poll the tables, rather than pass messages between processes:

- It works the same in every process: a post published by the back-office, by the API in
  another worker, by the task worker or by the ActivityPub inbox reaches every connection
  of every process, with no process told about any other.
- It works the same on SQLite and PostgreSQL, with no other service to run (no Redis, no
  broker): the embedded set-up stays one process and one file.
- The events are already durable in their rows: nothing to publish, nothing lost when a
  process restarts, and a transaction rolled back is never streamed (a message sent
  before the commit would be).
- It costs, per pass and per process, a few small indexed queries (post ids of the last
  ``PARVIS_STREAMING_LOOKBACK_SECONDS``, edited and deleted posts through partial indexes,
  notifications of the connected accounts by id), and nothing while nobody is connected.
- Events arrive at most one poll interval late, which clients do not notice.

On PostgreSQL, ``LISTEN``/``NOTIFY`` could later replace the sleep between passes (a
trigger, or the services, would ``NOTIFY`` on commit and the poller would wake at once);
the pass itself, and the tables as the source of truth, would stay.
"""
