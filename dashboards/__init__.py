"""The Streamlit dashboards (`zhengyun dashboard`): pages per role, all data through the services."""
