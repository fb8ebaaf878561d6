from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from parvis.core.urls import ACCOUNT_PATH
from parvis.web import feeds
from parvis.web.views import backoffice, public

app_name = "web"

urlpatterns = [
    path("", public.home, name="home"),
    path("directory/", public.directory, name="directory"),
    re_path(r"^directory/feed\.(?P<fmt>atom|rss)$", feeds.directory_feed, name="directory_feed"),
    re_path(r"^tags/(?P<name>\w+)/?$", public.tag, name="tag"),
    re_path(rf"^@{ACCOUNT_PATH}\.(?P<fmt>atom|rss)$", feeds.account_feed, name="account_feed"),
    re_path(rf"^@{ACCOUNT_PATH}/(?P<post_id>[0-9]{{1,19}})/?$", public.post_detail, name="post"),
    re_path(rf"^@{ACCOUNT_PATH}/?$", public.profile, name="profile"),
]

backoffice_patterns = (
    [
        path("", backoffice.dashboard, name="dashboard"),
        path("login/", backoffice.LoginView.as_view(), name="login"),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("accounts/<int:account_id>/", backoffice.account_home, name="account"),
        path(
            "accounts/<int:account_id>/notifications/",
            backoffice.notifications,
            name="notifications",
        ),
        path("drafts/<int:draft_id>/", backoffice.draft_detail, name="draft"),
        path("drafts/<int:draft_id>/reject/", backoffice.draft_reject, name="draft_reject"),
        path("posts/<int:post_id>/edit/", backoffice.post_edit, name="post_edit"),
        path("posts/<int:post_id>/delete/", backoffice.post_delete, name="post_delete"),
    ],
    "backoffice",
)
