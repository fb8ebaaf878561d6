from django.urls import path, re_path

from parvis.core.urls import ACCOUNT_PATH
from parvis.federation.views import discovery, inbox, objects

app_name = "federation"

urlpatterns = [
    path(".well-known/webfinger", discovery.webfinger, name="webfinger"),
    path(".well-known/host-meta", discovery.host_meta, name="host_meta"),
    path(".well-known/nodeinfo", discovery.nodeinfo_links, name="nodeinfo_links"),
    re_path(r"^nodeinfo/(?P<version>2\.[01])$", discovery.nodeinfo, name="nodeinfo"),
    path("inbox", inbox.inbox, name="shared_inbox"),
    path("actor", objects.instance_actor, name="instance_actor"),
    re_path(rf"^@{ACCOUNT_PATH}/inbox$", inbox.inbox, name="inbox"),
    re_path(rf"^@{ACCOUNT_PATH}/outbox$", objects.outbox, name="outbox"),
    re_path(rf"^@{ACCOUNT_PATH}/followers$", objects.followers, name="followers"),
    re_path(rf"^@{ACCOUNT_PATH}/following$", objects.following, name="following"),
    re_path(rf"^@{ACCOUNT_PATH}/collections/featured$", objects.featured, name="featured"),
]
