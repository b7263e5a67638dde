-- Each service owns its own database.
CREATE DATABASE content;
CREATE DATABASE media;
CREATE DATABASE billing;
CREATE DATABASE webhooks;
