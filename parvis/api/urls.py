from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as oauth_views

from parvis.api import views
from parvis.api.api import api

app_name = "api"

urlpatterns = [
    path("api/", api.urls),
    path("oauth/authorize", views.authorize, name="authorize"),
    path("oauth/token", csrf_exempt(oauth_views.TokenView.as_view()), name="token"),
    path("oauth/revoke", csrf_exempt(oauth_views.RevokeTokenView.as_view()), name="revoke"),
    path(".well-known/oauth-authorization-server", views.metadata, name="oauth_metadata"),
]
