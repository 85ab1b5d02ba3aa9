using System.Reflection;

namespace OrleansQueue.Tests.Infrastructure;

/// <summary>A fake <typeparamref name="T"/> that answers one method, by name, through a handler; every other member throws.</summary>
public class OneMethodFake<T> : DispatchProxy
    where T : class
{
    private string _method = "";
    private Func<object?[]?, object?> _handler = _ => null;

    public static T Create(string method, Func<object?[]?, object?> handler)
    {
        var proxy = Create<T, OneMethodFake<T>>();
        var fake = (OneMethodFake<T>)(object)proxy;
        (fake._method, fake._handler) = (method, handler);
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        targetMethod?.Name == _method ? _handler(args) : throw new NotSupportedException(targetMethod?.Name);
}
