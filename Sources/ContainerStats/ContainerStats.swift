/// cgroup v2 / netns / filesystem collectors, served as cAdvisor metrics and the Summary API.
public enum ContainerStats {}
